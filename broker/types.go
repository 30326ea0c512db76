package broker

import (
	"time"

	"github.com/hookq/hookq/ingest"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
)

// The types of this file are broker's vocabulary for its callers (api,
// the coming public gRPC API): plain Go values converted from and to the
// records of proto/raftcmd, which stay private to broker, raftfsm and
// storage.

// Message states as the API names them.
const (
	StateReady    = storage.StateReady
	StateDelayed  = storage.StateDelayed
	StateInflight = storage.StateInflight
	StateAcked    = storage.StateAcked
)

// ValidMessageID reports whether id has the form of a messageId (and so of
// a Messages cursor).
func ValidMessageID(id string) bool {
	_, ok := storage.ParseMessageID(id)
	return ok
}

// Header is one stored request header (multi-values joined by ", ").
type Header struct {
	Name  string
	Value []byte
}

// DeadLetter says why and when a message was dead-lettered.
type DeadLetter struct {
	OriginQueue string
	Reason      string
	Attempts    uint32
	DeadAt      time.Time
}

// DeliveryAttempt is one lease of a message's delivery history.
type DeliveryAttempt struct {
	DeliveryID string
	Attempt    uint32
	LeasedAt   time.Time
	LeaseUntil time.Time // the lease end as last set
	SettledAt  time.Time // zero while leased or when it lapsed
	Outcome    string    // ack|nack|reject|expired|purged, "" while leased or lapsed
	Reason     string
	Live       bool // the message is still leased by this delivery
}

// Message is one message as the admin API shows it.
type Message struct {
	ID          string
	Queue       string
	State       string // StateReady, StateDelayed, StateInflight or StateAcked
	Source      string
	ReceivedAt  time.Time
	EventID     string
	ReplayOf    string
	Attempts    uint32
	DeadLetter  *DeadLetter
	ContentType []byte // a header value: any octets
	Headers     []Header
	Deliveries  []DeliveryAttempt
	// BodyUTF8 says the body is valid UTF-8 (its encoding is "utf8",
	// else "base64"); set by Messages, which reads no bodies otherwise.
	BodyUTF8 bool
}

// Delivery is one leased message.
type Delivery struct {
	Queue        string
	DeliveryID   string
	Message      Message
	Body         []byte
	LeaseExpires time.Time
	// AutoAcked says the delivery was acked as it was leased: it has no
	// lease to settle or extend.
	AutoAcked bool
}

// SettleAction is what a settle item does to its delivery.
type SettleAction int

// Settle actions.
const (
	Ack SettleAction = iota + 1
	Nack
	Reject
	Extend
)

// String is the action's name (as metrics label it).
func (a SettleAction) String() string { return a.pb().String() }

func (a SettleAction) pb() pb.SettleAction {
	switch a {
	case Ack:
		return pb.SettleAction_ACK
	case Nack:
		return pb.SettleAction_NACK
	case Reject:
		return pb.SettleAction_REJECT
	case Extend:
		return pb.SettleAction_EXTEND
	}
	return pb.SettleAction(0)
}

// SettleItem is one ack / nack / reject / extend.
type SettleItem struct {
	DeliveryID string
	Action     SettleAction
	HasDelay   bool          // NACK: Delay overrides the queue's backoff
	Delay      time.Duration // NACK
	Reason     string        // NACK, REJECT
	Visibility time.Duration // EXTEND: the new lease length from now
}

// SettleItemResult is the outcome of one settle item: Err is nil,
// ErrLeaseExpired or ErrDeliveryNotFound.
type SettleItemResult struct {
	DeliveryID   string
	Err          error
	LeaseExpires time.Time // EXTEND: the new lease end
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func headersOf(hs []*pb.Header) []Header {
	out := make([]Header, 0, len(hs))
	for _, h := range hs {
		out = append(out, Header{Name: h.Name, Value: h.Value})
	}
	return out
}

func headersPB(hs []Header) []*pb.Header {
	out := make([]*pb.Header, 0, len(hs))
	for _, h := range hs {
		out = append(out, &pb.Header{Name: h.Name, Value: h.Value})
	}
	return out
}

// messageOf converts a record of queue q; state is its view state.
func messageOf(q, state string, m *pb.MessageRecord, now int64) Message {
	out := Message{
		ID: storage.MessageID(m.Seq), Queue: q, State: state, Source: m.Source,
		ReceivedAt: unixTime(m.ReceivedUnixNano), EventID: m.EventId, ReplayOf: m.ReplayOf,
		Attempts: m.Attempts, ContentType: m.ContentType, Headers: headersOf(m.Headers),
		Deliveries: make([]DeliveryAttempt, 0, len(m.Deliveries)),
	}
	if d := m.DeadLetter; d != nil {
		out.DeadLetter = &DeadLetter{OriginQueue: d.OriginQueue, Reason: d.Reason, Attempts: d.Attempts, DeadAt: unixTime(d.DeadUnixNano)}
	}
	for _, d := range m.Deliveries {
		out.Deliveries = append(out.Deliveries, DeliveryAttempt{
			DeliveryID: storage.DeliveryID(m.Seq, d.Attempt, d.Rand), Attempt: d.Attempt,
			LeasedAt: unixTime(d.LeasedUnixNano), LeaseUntil: unixTime(d.LeaseUntilUnixNano),
			SettledAt: unixTime(d.SettledUnixNano), Outcome: d.Outcome, Reason: d.Reason,
			Live: storage.LeasedBy(m, d, now),
		})
	}
	return out
}

func deliveryOf(d storage.Delivery) Delivery {
	return Delivery{
		Queue: d.Queue, DeliveryID: d.DeliveryID, Body: d.Body, LeaseExpires: unixTime(d.LeaseExpires),
		Message: messageOf(d.Queue, StateInflight, d.Message, time.Now().UnixNano()),
	}
}

func deliveriesOf(ds []storage.Delivery) []Delivery {
	if ds == nil {
		return nil
	}
	out := make([]Delivery, 0, len(ds))
	for _, d := range ds {
		out = append(out, deliveryOf(d))
	}
	return out
}

func settleResultOf(r storage.SettleItemResult) SettleItemResult {
	return SettleItemResult{DeliveryID: r.DeliveryID, Err: r.Err, LeaseExpires: unixTime(r.LeaseExpires)}
}

// QueueConfig is a queue's settings (docs/API.md §3.1).
type QueueConfig struct {
	VisibilityTimeout time.Duration
	MaxAttempts       uint32 // 0: no limit
	Backoff           []time.Duration
	DeadLetterQueue   string // "": none
	Retention         time.Duration
	MaxDepth          int64
	CreatedAt         time.Time // set by the broker
}

// Stats are a queue's counts at a moment.
type Stats struct {
	Ready, Inflight, Delayed, Acked   int64
	OldestReadyAge                    time.Duration
	Enqueued, Delivered, DeadLettered int64
}

// QueueInfo is a queue's settings and stats.
type QueueInfo struct {
	Name   string
	Config QueueConfig
	Stats  Stats
}

// Source is a source's settings: ingest's config, plus when the broker
// stored it. Secrets are included: callers must not return them.
type Source struct {
	Name string
	ingest.SourceConfig
	CreatedAt time.Time
}

// Token is a bearer token's record (never its secret).
type Token struct {
	Name      string
	Scopes    []string
	CreatedAt time.Time
}

// Node is a cluster member as it registers (POST /v1/cluster/join).
type Node struct {
	ID, RaftAddr, HTTPAddr, GRPCAddr string
	Role                             string // voter | ingest
}

func (n Node) record() *pb.NodeRecord {
	return &pb.NodeRecord{Id: n.ID, RaftAddr: n.RaftAddr, HttpAddr: n.HTTPAddr, GrpcAddr: n.GRPCAddr, Role: n.Role}
}

func settleItemPB(it SettleItem) *pb.SettleItem {
	return &pb.SettleItem{
		DeliveryId: it.DeliveryID, Action: it.Action.pb(), HasDelay: it.HasDelay, DelayNanos: int64(it.Delay),
		Reason: it.Reason, VisibilityNanos: int64(it.Visibility),
	}
}

func queueConfigOf(c *pb.QueueConfig) QueueConfig {
	out := QueueConfig{
		VisibilityTimeout: time.Duration(c.VisibilityTimeoutNanos), MaxAttempts: c.MaxAttempts,
		Backoff: make([]time.Duration, 0, len(c.BackoffNanos)), DeadLetterQueue: c.DeadLetterQueue,
		Retention: time.Duration(c.RetentionNanos), MaxDepth: c.MaxDepth, CreatedAt: unixTime(c.CreatedUnixNano),
	}
	for _, b := range c.BackoffNanos {
		out.Backoff = append(out.Backoff, time.Duration(b))
	}
	return out
}

func queueConfigPB(c QueueConfig) *pb.QueueConfig {
	out := &pb.QueueConfig{
		VisibilityTimeoutNanos: int64(c.VisibilityTimeout), MaxAttempts: c.MaxAttempts,
		DeadLetterQueue: c.DeadLetterQueue, RetentionNanos: int64(c.Retention), MaxDepth: c.MaxDepth,
		CreatedUnixNano: unixNano(c.CreatedAt),
	}
	for _, b := range c.Backoff {
		out.BackoffNanos = append(out.BackoffNanos, int64(b))
	}
	return out
}

func queueInfoOf(qi storage.QueueInfo) QueueInfo {
	s := qi.Stats
	return QueueInfo{Name: qi.Name, Config: queueConfigOf(qi.Config), Stats: Stats{
		Ready: s.Ready, Inflight: s.Inflight, Delayed: s.Delayed, Acked: s.Acked,
		OldestReadyAge: time.Duration(s.OldestReadyAgeNanos),
		Enqueued:       s.Enqueued, Delivered: s.Delivered, DeadLettered: s.DeadLettered,
	}}
}

func tokenOf(t *pb.TokenRecord) Token {
	return Token{Name: t.Name, Scopes: t.Scopes, CreatedAt: unixTime(t.CreatedUnixNano)}
}

// SourceOf converts a stored source record (as the cluster service
// carries it to ingest nodes).
func SourceOf(name string, rec *pb.SourceConfig) Source {
	return Source{Name: name, SourceConfig: ingest.SourceConfig{
		Queues: rec.Queues,
		Verify: ingest.VerifyConfig{
			Type: rec.VerifyType, Secrets: rec.Secrets, Header: rec.VerifyHeader, Algorithm: rec.Algorithm,
			Encoding: rec.Encoding, Prefix: rec.Prefix, Tolerance: time.Duration(rec.ToleranceNanos),
		},
		Dedup:        ingest.DedupConfig{Key: rec.DedupKey, Window: time.Duration(rec.DedupWindowNanos)},
		MaxBodyBytes: rec.MaxBodyBytes,
	}, CreatedAt: unixTime(rec.CreatedUnixNano)}
}

func sourceRecord(c ingest.SourceConfig) *pb.SourceConfig {
	return &pb.SourceConfig{
		Queues: c.Queues, VerifyType: c.Verify.Type, Secrets: c.Verify.Secrets, VerifyHeader: c.Verify.Header,
		Algorithm: c.Verify.Algorithm, Encoding: c.Verify.Encoding, Prefix: c.Verify.Prefix,
		ToleranceNanos: int64(c.Verify.Tolerance), DedupKey: c.Dedup.Key, DedupWindowNanos: int64(c.Dedup.Window),
		MaxBodyBytes: c.MaxBodyBytes,
	}
}
