package raftfsm_test

// A plain in-memory model of docs/API.md §3, written from the doc and not from
// package storage: maps and slices, no keys, no indexes, no Pebble. The
// property test drives it and the FSM with the same commands and compares
// every observable result.

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hookq/hookq/storage"
)

const (
	modelMaxLease   = int64(12 * time.Hour) // docs/API.md §3.4: leases and extends end ≤ 12h after they began
	modelMaxHistory = 64                    // the delivery history a message keeps
)

type mConfig struct {
	vis         int64
	maxAttempts uint32 // 0: unlimited
	backoff     []int64
	dlq         string // "": drop
	retention   int64
	maxDepth    int64 // 0: unlimited
}

type mState int

const (
	mPending  mState = iota // ready or delayed, by at
	mInflight               // leased until at
	mAcked                  // kept for retention
	mGone                   // dead-lettered or dropped: only its deliveries are remembered, for retention
)

type mDelivery struct {
	id       string // bound from the FSM's answer: ids are opaque
	attempt  uint32
	leasedAt int64
}

type mDead struct {
	origin, reason string
	attempts       uint32
	at             int64
}

type mMsg struct {
	seq      uint64
	body     string
	received int64 // receive time: enqueue or replay
	replayOf string
	state    mState
	at       int64 // pending: available from; inflight: lease end
	attempts uint32
	doneAt   int64 // acked / gone: since when
	history  []*mDelivery
	dead     *mDead
}

type mQueue struct {
	cfg                               mConfig
	msgs                              map[uint64]*mMsg
	enqueued, delivered, deadLettered int64
}

type mDedup struct {
	id      string
	expires int64
}

type mRef struct {
	queue string
	seq   uint64
}

type model struct {
	now        int64
	index      uint64
	n          uint64 // messages created by the current entry
	queues     map[string]*mQueue
	dedup      map[string]mDedup
	deliveries map[string]mRef // every deliveryId handed out
}

func newModel() *model {
	return &model{queues: map[string]*mQueue{}, dedup: map[string]mDedup{}, deliveries: map[string]mRef{}}
}

// entry starts Raft entry index; the clock takes the larger of its time
// and the last one.
func (m *model) entry(index uint64, leaderTime int64) {
	m.index, m.n = index, 0
	m.now = max(m.now, leaderTime)
}

func (m *model) putQueue(name string, c mConfig) {
	m.queues[name] = &mQueue{cfg: c, msgs: map[uint64]*mMsg{}}
	if c.dlq != "" && c.dlq != name && m.queues[c.dlq] == nil {
		d := c
		d.maxAttempts, d.dlq = 0, ""
		d.backoff = append([]int64(nil), c.backoff...)
		m.queues[c.dlq] = &mQueue{cfg: d, msgs: map[uint64]*mMsg{}}
	}
}

func (q *mQueue) depth() int64 {
	var n int64
	for _, msg := range q.msgs {
		if msg.state == mPending || msg.state == mInflight {
			n++
		}
	}
	return n
}

type mEnqueueResult struct {
	id        string
	duplicate bool
	err       error
}

func (m *model) enqueue(src string, queues []string, body, key string, window int64) mEnqueueResult {
	if key != "" {
		if d, ok := m.dedup[src+"\x00"+key]; ok && m.now < d.expires {
			return mEnqueueResult{id: d.id, duplicate: true}
		}
	}
	var qs []string
	for _, q := range queues {
		if !contains(qs, q) {
			qs = append(qs, q)
		}
	}
	for _, q := range qs {
		mq := m.queues[q]
		if mq == nil {
			return mEnqueueResult{err: storage.ErrQueueNotFound}
		}
		if mq.cfg.maxDepth > 0 && mq.depth() >= mq.cfg.maxDepth {
			return mEnqueueResult{err: storage.ErrQueueFull}
		}
	}
	m.n++
	seq := m.index<<20 | m.n
	id := fmt.Sprintf("%016x", seq)
	for _, q := range qs {
		mq := m.queues[q]
		mq.msgs[seq] = &mMsg{seq: seq, body: body, received: m.now, state: mPending, at: m.now}
		mq.enqueued++
	}
	if key != "" {
		m.dedup[src+"\x00"+key] = mDedup{id: id, expires: m.now + window}
	}
	return mEnqueueResult{id: id}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// firstAvailable is the message of q that became available first (ties:
// ingest order) among pending ones due now and lapsed leases.
func (m *model) firstAvailable(q *mQueue) *mMsg {
	var best *mMsg
	for _, msg := range q.msgs {
		if (msg.state != mPending && msg.state != mInflight) || msg.at > m.now {
			continue
		}
		if best == nil || msg.at < best.at || msg.at == best.at && msg.seq < best.seq {
			best = msg
		}
	}
	return best
}

func (q *mQueue) exhausted(msg *mMsg) bool {
	return q.cfg.maxAttempts > 0 && msg.attempts >= q.cfg.maxAttempts
}

type mLeased struct {
	queue    string
	msg      *mMsg
	attempt  uint32
	leaseEnd int64
	delivery *mDelivery
}

func (m *model) lease(q string, n int, vis int64, autoAck bool) ([]mLeased, error) {
	mq := m.queues[q]
	if mq == nil {
		return nil, storage.ErrQueueNotFound
	}
	if vis <= 0 {
		vis = mq.cfg.vis
	}
	vis = min(vis, modelMaxLease)
	var out []mLeased
	for len(out) < n {
		msg := m.firstAvailable(mq)
		if msg == nil {
			break
		}
		if msg.state == mInflight { // a lapsed lease: expires like a nack with no delay
			if mq.exhausted(msg) {
				m.deadLetter(q, msg, "max_attempts")
				continue
			}
			msg.state = mPending
		}
		msg.attempts++
		mq.delivered++
		d := &mDelivery{attempt: msg.attempts, leasedAt: m.now}
		msg.history = append(msg.history, d)
		if len(msg.history) > modelMaxHistory {
			msg.history = msg.history[1:]
		}
		if autoAck {
			msg.state, msg.doneAt = mAcked, m.now
		} else {
			msg.state, msg.at = mInflight, m.now+vis
		}
		out = append(out, mLeased{queue: q, msg: msg, attempt: msg.attempts, leaseEnd: m.now + vis, delivery: d})
	}
	return out, nil
}

// bind records the deliveryId the FSM chose for a lease.
func (m *model) bind(l mLeased, id string) {
	l.delivery.id = id
	m.deliveries[id] = mRef{queue: l.queue, seq: l.msg.seq}
}

func (m *model) deadLetter(q string, msg *mMsg, reason string) {
	mq := m.queues[q]
	mq.deadLettered++
	attempts := msg.attempts
	msg.state, msg.doneAt = mGone, m.now
	dlq := m.queues[mq.cfg.dlq]
	if mq.cfg.dlq == "" || mq.cfg.dlq == q || dlq == nil {
		return
	}
	if old := dlq.msgs[msg.seq]; old != nil && old.state != mGone {
		return
	}
	dlq.msgs[msg.seq] = &mMsg{
		seq: msg.seq, body: msg.body, received: msg.received, replayOf: msg.replayOf, state: mPending, at: m.now,
		history: append([]*mDelivery(nil), msg.history...),
		dead:    &mDead{origin: q, reason: reason, attempts: attempts, at: m.now},
	}
	dlq.enqueued++
}

type mSettleItem struct {
	action   string // ack nack reject extend
	id       string
	hasDelay bool
	delay    int64
	reason   string
	vis      int64
}

type mSettleResult struct {
	err      error
	leaseEnd int64
}

func (m *model) settle(q string, items []mSettleItem) ([]mSettleResult, error) {
	mq := m.queues[q]
	if mq == nil {
		return nil, storage.ErrQueueNotFound
	}
	out := make([]mSettleResult, len(items))
	for i, it := range items {
		out[i] = m.settleOne(q, mq, it)
	}
	return out, nil
}

func (m *model) settleOne(q string, mq *mQueue, it mSettleItem) mSettleResult {
	ref, ok := m.deliveries[it.id]
	if !ok || ref.queue != q {
		return mSettleResult{err: storage.ErrDeliveryNotFound}
	}
	msg := mq.msgs[ref.seq]
	if msg == nil {
		return mSettleResult{err: storage.ErrDeliveryNotFound} // collected after retention
	}
	var d *mDelivery
	for _, x := range msg.history {
		if x.id == it.id {
			d = x
		}
	}
	if d == nil {
		return mSettleResult{err: storage.ErrDeliveryNotFound}
	}
	if msg.state != mInflight || msg.history[len(msg.history)-1] != d || msg.at <= m.now {
		return mSettleResult{err: storage.ErrLeaseExpired}
	}
	switch it.action {
	case "extend":
		msg.at = min(m.now+it.vis, d.leasedAt+modelMaxLease)
		return mSettleResult{leaseEnd: msg.at}
	case "ack":
		msg.state, msg.doneAt = mAcked, m.now
	case "nack":
		if mq.exhausted(msg) {
			m.deadLetter(q, msg, "max_attempts")
			break
		}
		delay := it.delay
		if !it.hasDelay {
			delay = backoffFor(mq.cfg.backoff, msg.attempts)
		}
		msg.state, msg.at = mPending, m.now+delay
	case "reject":
		reason := it.reason
		if reason == "" {
			reason = "rejected"
		}
		m.deadLetter(q, msg, reason)
	default:
		panic("model: unknown action " + it.action)
	}
	return mSettleResult{}
}

// backoffFor is backoff[attempt-1], the last entry repeating; none: 0.
func backoffFor(b []int64, attempt uint32) int64 {
	if len(b) == 0 {
		return 0
	}
	return b[min(int(attempt)-1, len(b)-1)]
}

// redrive moves q's ready or delayed dead-lettered messages (all, or those
// named) back to their origin queues with attempts reset.
func (m *model) redrive(q string, ids []string) (int64, error) {
	mq := m.queues[q]
	if mq == nil {
		return 0, storage.ErrQueueNotFound
	}
	isDLQ := false
	for _, other := range m.queues {
		isDLQ = isDLQ || other.cfg.dlq == q
	}
	if !isDLQ {
		return 0, storage.ErrNotDeadLetter
	}
	var n int64
	for _, msg := range m.pick(mq, ids) {
		if msg.state != mPending || msg.dead == nil || m.queues[msg.dead.origin] == nil {
			continue
		}
		origin := m.queues[msg.dead.origin]
		if old := origin.msgs[msg.seq]; old != nil && old.state != mGone {
			continue
		}
		origin.msgs[msg.seq] = &mMsg{seq: msg.seq, body: msg.body, received: msg.received, replayOf: msg.replayOf,
			state: mPending, at: m.now, history: append([]*mDelivery(nil), msg.history...)}
		origin.enqueued++
		msg.state, msg.doneAt = mGone, m.now
		n++
	}
	return n, nil
}

// pick returns q's messages named by ids (in that order, unknown ones and
// repeats skipped), or, with no ids, every message of q by ingest order.
func (m *model) pick(mq *mQueue, ids []string) []*mMsg {
	var out []*mMsg
	if len(ids) == 0 {
		for _, msg := range mq.msgs {
			out = append(out, msg)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	}
	seen := map[string]bool{}
	for _, id := range ids {
		for _, msg := range mq.msgs {
			if fmt.Sprintf("%016x", msg.seq) == id && !seen[id] {
				out = append(out, msg)
			}
		}
		seen[id] = true
	}
	return out
}

// replay enqueues into q a new copy of each message q still holds (named,
// or received in [since, until), 0 meaning unbounded).
func (m *model) replay(q string, ids []string, since, until int64) (int64, error) {
	mq := m.queues[q]
	if mq == nil {
		return 0, storage.ErrQueueNotFound
	}
	var n int64
	for _, msg := range m.pick(mq, ids) {
		if msg.state == mGone || since != 0 && msg.received < since || until != 0 && msg.received >= until {
			continue
		}
		m.n++
		seq := m.index<<20 | m.n
		mq.msgs[seq] = &mMsg{seq: seq, body: msg.body, received: m.now, replayOf: fmt.Sprintf("%016x", msg.seq), state: mPending, at: m.now}
		mq.enqueued++
		n++
	}
	return n, nil
}

// purge removes q's ready, delayed and in-flight messages.
func (m *model) purge(q string) (int64, error) {
	mq := m.queues[q]
	if mq == nil {
		return 0, storage.ErrQueueNotFound
	}
	var n int64
	for _, msg := range mq.msgs {
		if msg.state == mPending || msg.state == mInflight {
			msg.state, msg.doneAt = mGone, m.now
			n++
		}
	}
	return n, nil
}

// sweep expires lapsed leases, collects acked and gone messages past
// retention, and drops expired dedup entries; it answers how many.
func (m *model) sweep() int64 {
	var n int64
	names := make([]string, 0, len(m.queues))
	for name := range m.queues {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, q := range names {
		mq := m.queues[q]
		var due []*mMsg
		for _, msg := range mq.msgs {
			if msg.state == mInflight && msg.at <= m.now {
				due = append(due, msg)
			}
		}
		sort.Slice(due, func(i, j int) bool {
			return due[i].at < due[j].at || due[i].at == due[j].at && due[i].seq < due[j].seq
		})
		for _, msg := range due {
			if mq.exhausted(msg) {
				m.deadLetter(q, msg, "max_attempts")
			} else {
				msg.state = mPending
			}
			n++
		}
		for seq, msg := range mq.msgs {
			if (msg.state == mAcked || msg.state == mGone) && msg.doneAt <= m.now-mq.cfg.retention {
				delete(mq.msgs, seq)
				n++
			}
		}
	}
	for k, d := range m.dedup {
		if d.expires <= m.now {
			delete(m.dedup, k)
			n++
		}
	}
	return n
}

// stats derives q's stats at time at: a lapsed lease is ready since its end.
func (m *model) stats(q string, at int64) storage.Stats {
	mq := m.queues[q]
	s := storage.Stats{Enqueued: mq.enqueued, Delivered: mq.delivered, DeadLettered: mq.deadLettered}
	oldest := int64(-1)
	for _, msg := range mq.msgs {
		switch {
		case msg.state == mAcked:
			s.Acked++
		case msg.state == mGone:
		case msg.at > at && msg.state == mPending:
			s.Delayed++
		case msg.at > at:
			s.Inflight++
		default:
			s.Ready++
			if oldest < 0 || msg.at < oldest {
				oldest = msg.at
			}
		}
	}
	if oldest >= 0 {
		s.OldestReadyAgeNanos = at - oldest
	}
	return s
}

type mListed struct {
	id, state, replayOf string
	attempts            uint32
	received            int64
	dead                *mDead
}

// list is q's listing at time at: newest first, without gone messages.
func (m *model) list(q string, at int64) []mListed {
	mq := m.queues[q]
	var out []mListed
	for _, msg := range mq.msgs {
		var state string
		switch {
		case msg.state == mAcked:
			state = storage.StateAcked
		case msg.state == mGone:
			continue
		case msg.at > at && msg.state == mPending:
			state = storage.StateDelayed
		case msg.at > at:
			state = storage.StateInflight
		default:
			state = storage.StateReady
		}
		out = append(out, mListed{id: fmt.Sprintf("%016x", msg.seq), state: state, replayOf: msg.replayOf,
			attempts: msg.attempts, received: msg.received, dead: msg.dead})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id > out[j].id })
	return out
}

// sameErr compares result errors: both nil or the same sentinel.
func sameErr(got, want error) bool {
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want)
}
