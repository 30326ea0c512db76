package broker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/prometheus/client_golang/prometheus"
)

// Delivery outcomes of hookq_deliveries_total.
const (
	OutcomeAck          = "ack"
	OutcomeNack         = "nack"
	OutcomeReject       = "reject"
	OutcomeExpired      = "expired"
	OutcomeDeadLettered = "dead_lettered"
)

// Raft states as hookq_raft_state reports them.
const (
	raftStateFollower  = 0
	raftStateCandidate = 1
	raftStateLeader    = 2
	raftStateShutdown  = 3
)

// nodeMetrics is one node's instrumentation. Queue gauges and Raft
// gauges are read at scrape time (Collect), so they are exact and cost
// nothing between scrapes; labels are queue names (bounded by config) and
// fixed enums, never ids.
type nodeMetrics struct {
	b *Broker

	mu       sync.Mutex
	outcomes map[string]*[4]float64 // queue → ack, nack, reject, expired through this node

	deliveryAge   prometheus.Histogram
	applyBatch    prometheus.Histogram
	leaderChanges prometheus.Counter
	forwardErrors prometheus.Counter

	queueMessages, oldestReady, deliveries       *prometheus.Desc
	raftState, raftTerm, raftCommit, raftApplied *prometheus.Desc
}

var outcomeIndex = map[SettleAction]int{Ack: 0, Nack: 1, Reject: 2}
var outcomeNames = [4]string{OutcomeAck, OutcomeNack, OutcomeReject, OutcomeExpired}

func newNodeMetrics(b *Broker) *nodeMetrics {
	return &nodeMetrics{
		b:        b,
		outcomes: map[string]*[4]float64{},
		deliveryAge: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookq_delivery_age_seconds",
			Help:    "Time from a message's ingest to its ack, for acks served by this node.",
			Buckets: []float64{0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600, 3600, 21600, 86400},
		}),
		applyBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hookq_raft_apply_batch_size",
			Help:    "Operations per Raft entry proposed by this node as leader.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 … 1024
		}),
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hookq_raft_leader_changes_total",
			Help: "Times this node saw the cluster's leader change (including to none).",
		}),
		forwardErrors: NewForwardErrorsCounter(),
		queueMessages: prometheus.NewDesc("hookq_queue_messages",
			"Messages in a queue now, by state (ready, inflight, delayed, acked = retained).", []string{"queue", "state"}, nil),
		oldestReady: prometheus.NewDesc("hookq_queue_oldest_ready_age_seconds",
			"Now minus the time the oldest ready message of a queue became available (0 when none is ready).", []string{"queue"}, nil),
		deliveries: prometheus.NewDesc("hookq_deliveries_total",
			"Deliveries ended, by queue and outcome: ack, nack, reject and expired through this node; dead_lettered is the queue's replicated total since it was created.",
			[]string{"queue", "outcome"}, nil),
		raftState: prometheus.NewDesc("hookq_raft_state",
			"This node's Raft state: 0 follower, 1 candidate, 2 leader, 3 shutdown.", nil, nil),
		raftTerm:    prometheus.NewDesc("hookq_raft_term", "This node's current Raft term.", nil, nil),
		raftCommit:  prometheus.NewDesc("hookq_raft_commit_index", "The highest Raft index this node knows is committed.", nil, nil),
		raftApplied: prometheus.NewDesc("hookq_raft_applied_index", "The highest Raft index this node's state machine has applied.", nil, nil),
	}
}

// Describe sends every metric's description.
func (m *nodeMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.queueMessages, m.oldestReady, m.deliveries, m.raftState, m.raftTerm, m.raftCommit, m.raftApplied} {
		ch <- d
	}
	m.deliveryAge.Describe(ch)
	m.applyBatch.Describe(ch)
	m.leaderChanges.Describe(ch)
	m.forwardErrors.Describe(ch)
}

// Collect reads the queue stats and the Raft state now.
func (m *nodeMetrics) Collect(ch chan<- prometheus.Metric) {
	b := m.b
	if qs, err := b.store.Queues(time.Now().UnixNano()); err == nil {
		m.mu.Lock()
		outcomes := make(map[string][4]float64, len(m.outcomes))
		for q, c := range m.outcomes {
			outcomes[q] = *c
		}
		m.mu.Unlock()
		for _, q := range qs {
			st := q.Stats
			for _, s := range []struct {
				state string
				n     int64
			}{{StateReady, st.Ready}, {StateInflight, st.Inflight}, {StateDelayed, st.Delayed}, {StateAcked, st.Acked}} {
				ch <- prometheus.MustNewConstMetric(m.queueMessages, prometheus.GaugeValue, float64(s.n), q.Name, s.state)
			}
			ch <- prometheus.MustNewConstMetric(m.oldestReady, prometheus.GaugeValue, time.Duration(st.OldestReadyAgeNanos).Seconds(), q.Name)
			counts := outcomes[q.Name]
			for i, name := range outcomeNames {
				ch <- prometheus.MustNewConstMetric(m.deliveries, prometheus.CounterValue, counts[i], q.Name, name)
			}
			ch <- prometheus.MustNewConstMetric(m.deliveries, prometheus.CounterValue, float64(st.DeadLettered), q.Name, OutcomeDeadLettered)
		}
	}
	state, term, commit := float64(raftStateLeader), 0.0, float64(b.store.AppliedIndex())
	if b.raft != nil {
		switch b.raft.State() {
		case raft.Follower:
			state = raftStateFollower
		case raft.Candidate:
			state = raftStateCandidate
		case raft.Leader:
			state = raftStateLeader
		default:
			state = raftStateShutdown
		}
		term, commit = float64(b.raft.CurrentTerm()), float64(b.raft.CommitIndex())
	}
	ch <- prometheus.MustNewConstMetric(m.raftState, prometheus.GaugeValue, state)
	ch <- prometheus.MustNewConstMetric(m.raftTerm, prometheus.GaugeValue, term)
	ch <- prometheus.MustNewConstMetric(m.raftCommit, prometheus.GaugeValue, commit)
	ch <- prometheus.MustNewConstMetric(m.raftApplied, prometheus.GaugeValue, float64(b.store.AppliedIndex()))
	m.deliveryAge.Collect(ch)
	m.applyBatch.Collect(ch)
	m.leaderChanges.Collect(ch)
	m.forwardErrors.Collect(ch)
}

// count adds n to queue q's outcome i (an index of outcomeNames).
func (m *nodeMetrics) count(q string, i int, n float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.outcomes[q]
	if c == nil {
		if len(m.outcomes) > 4096 { // queues come and go: start over rather than grow
			m.outcomes = map[string]*[4]float64{}
		}
		c = new([4]float64)
		m.outcomes[q] = c
	}
	c[i] += n
}

// observeLease counts the expired leases that deliveries took over: a
// delivery whose previous one in the message's history ended "expired".
func (m *nodeMetrics) observeLease(q string, ds []Delivery) {
	if m == nil {
		return
	}
	for _, d := range ds {
		if h := d.Message.Deliveries; len(h) >= 2 && h[len(h)-2].Outcome == OutcomeExpired {
			m.count(q, 3, 1)
		}
	}
}

// observeSettle counts the settlements that took effect, and the ingest →
// ack age of each ack.
func (m *nodeMetrics) observeSettle(q string, items []SettleItem, res []SettleItemResult) {
	if m == nil {
		return
	}
	for i, it := range items {
		if i >= len(res) || res[i].Err != nil {
			continue
		}
		idx, ok := outcomeIndex[it.Action]
		if !ok {
			continue
		}
		m.count(q, idx, 1)
		if it.Action == Ack {
			if at, ok := m.b.store.DeliveryReceivedAt(q, it.DeliveryID); ok {
				m.deliveryAge.Observe(time.Since(time.Unix(0, at)).Seconds())
			}
		}
	}
}

// observeDispatch wraps the batcher's dispatch so the entries this node
// proposes as leader are measured.
func (m *nodeMetrics) observeDispatch(next func(context.Context, []*proposal)) func(context.Context, []*proposal) {
	return func(ctx context.Context, batch []*proposal) {
		if m.b.selfLeads() {
			m.applyBatch.Observe(float64(len(batch)))
		}
		next(ctx, batch)
	}
}

// countingLeader counts the failed forwards of the Leader it wraps.
type countingLeader struct {
	innerCluster
	errs prometheus.Counter
}

// innerCluster names the embedded Cluster (a field named Cluster would
// hide its Cluster method).
type innerCluster = Cluster

func (c countingLeader) Forward(ctx context.Context, ops []*pb.Op) ([]*pb.OpResult, uint64, error) {
	res, idx, err := c.innerCluster.Forward(ctx, ops)
	if err != nil && !errors.Is(err, ErrLeading) {
		c.errs.Inc()
	}
	return res, idx, err
}

// NewForwardErrorsCounter is hookq_forward_errors_total, for a node that
// forwards without a Broker (an ingest node, see CountForwardErrors).
func NewForwardErrorsCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hookq_forward_errors_total",
		Help: "Batches this node forwarded to the leader whose outcome is an error (leader unreachable, no leader, unknown outcome).",
	})
}

// CountForwardErrors wraps l so that each failed Forward adds one to c.
func CountForwardErrors(l Leader, c prometheus.Counter) Leader {
	return forwardCounter{Leader: l, errs: c}
}

type forwardCounter struct {
	Leader
	errs prometheus.Counter
}

func (f forwardCounter) Forward(ctx context.Context, ops []*pb.Op) ([]*pb.OpResult, uint64, error) {
	res, idx, err := f.Leader.Forward(ctx, ops)
	if err != nil && !errors.Is(err, ErrLeading) {
		f.errs.Inc()
	}
	return res, idx, err
}
