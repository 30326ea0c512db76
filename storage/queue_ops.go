package storage

import (
	"bytes"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
)

const (
	// MaxLease is the longest a lease may last from the moment it began.
	MaxLease = int64(12 * time.Hour)
	// MaxLeaseBytes bounds the bodies one lease hands out: a lease stops
	// taking messages once their bodies reach it (it always takes one), so
	// a batch lease of large webhooks stays a sane response and a sane
	// forwarding reply.
	MaxLeaseBytes = 4 << 20
	// maxHistory bounds the delivery history kept per message.
	maxHistory = 64
)

// EnqueueResult is the outcome of one Enqueue.
type EnqueueResult struct {
	MessageID string
	Duplicate bool
	Err       error
}

// Delivery is one message leased to a consumer.
type Delivery struct {
	Queue        string
	DeliveryID   string
	Message      *pb.MessageRecord
	Body         []byte
	LeaseExpires int64 // unix nanos
}

// LeaseResult is the outcome of one Lease.
type LeaseResult struct {
	Deliveries []Delivery
	Err        error
}

// SettleItemResult is the outcome of one settle item: Err is nil,
// ErrLeaseExpired or ErrDeliveryNotFound.
type SettleItemResult struct {
	DeliveryID   string
	Err          error
	LeaseExpires int64 // EXTEND: the new lease end
}

// SettleResult is the outcome of one Settle.
type SettleResult struct {
	Items []SettleItemResult
	Err   error
}

// Enqueue appends a webhook to each of its queues, or answers the first
// messageId when its dedup key was seen inside the window.
func (t *Txn) Enqueue(op *pb.Enqueue) EnqueueResult {
	if err := checkEnqueue(op); err != nil {
		return EnqueueResult{Err: err}
	}
	var prior *pb.DedupRecord
	if op.DedupKey != "" {
		d := &pb.DedupRecord{}
		ok, err := getProto(t.b, dedupKey(op.Source, op.DedupKey), d)
		if err != nil {
			panic(err)
		}
		if ok && d.ExpiresUnixNano > t.now {
			return EnqueueResult{MessageID: d.MessageId, Duplicate: true}
		}
		if ok {
			prior = d
		}
	}
	queues := uniq(op.Queues)
	for _, q := range queues {
		cfg, ok := t.queue(q)
		if !ok {
			return EnqueueResult{Err: ErrQueueNotFound}
		}
		if st := t.stat(q); cfg.MaxDepth > 0 && st.Pending+st.Inflight >= cfg.MaxDepth {
			return EnqueueResult{Err: ErrQueueFull}
		}
	}
	seq, ok := t.nextSeq()
	if !ok {
		return EnqueueResult{Err: ErrEntryFull}
	}
	for _, q := range queues {
		rec := &pb.MessageRecord{
			Seq: seq, Source: op.Source, ReceivedUnixNano: t.now, EventId: op.EventId,
			ContentType: op.ContentType, Headers: op.Headers,
		}
		t.insertPending(q, rec, op.Body)
	}
	id := MessageID(seq)
	if op.DedupKey != "" {
		if prior != nil {
			t.del(dedupExpKey(prior.ExpiresUnixNano, op.Source, op.DedupKey))
		}
		exp := addSat(t.now, op.DedupWindowNanos)
		t.set(dedupKey(op.Source, op.DedupKey), marshal(&pb.DedupRecord{MessageId: id, ExpiresUnixNano: exp}))
		t.set(dedupExpKey(exp, op.Source, op.DedupKey), nil)
	}
	return EnqueueResult{MessageID: id}
}

// insertPending stores rec as a new ready message of q, available now.
func (t *Txn) insertPending(q string, rec *pb.MessageRecord, body []byte) {
	rec.State = pb.MessageState_PENDING
	rec.AvailableUnixNano = t.now
	t.putMessage(q, rec)
	t.set(msgKey(pBody, q, rec.Seq), body)
	t.set(indexKey(pReady, q, t.now, rec.Seq), nil)
	st := t.stat(q)
	st.Pending++
	st.Enqueued++
	t.woken[q] = struct{}{}
}

func uniq(names []string) []string {
	out := make([]string, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

type candidate struct {
	at     int64
	seq    uint64
	leased bool // an expired lease, not a pending message
}

// available lists up to n messages of q available now, in the order they
// became available (ties: ingest order): pending ones and expired leases.
//
// Each scan runs from its index's head hint to the end of the index and
// stops at the first entry not yet due, so it raises the hint to the first
// live entry even when that one lies in the future: the deleted entries
// of acked leases (whose lease end is still ahead) and of leased messages
// are then skipped once here, not by every NextAvailable that follows.
func (t *Txn) available(q string, n int) []candidate {
	var out []candidate
	for _, kind := range []byte{pReady, pLeased} {
		p := queuePrefix(kind, q)
		due := be64(append([]byte(nil), p...), tsKey(t.now)+1) // entries before it are due now
		end := prefixEnd(p)
		first := end // no live entry
		t.scan(t.s.heads.start(p), end, n, func(k, _ []byte) bool {
			if bytes.Compare(k, first) < 0 {
				first = append([]byte(nil), k...)
			}
			if bytes.Compare(k, due) >= 0 {
				return false
			}
			at, seq := indexEntry(k, len(p))
			out = append(out, candidate{at: at, seq: seq, leased: kind == pLeased})
			return true
		})
		t.s.heads.raise(p, first)
	}
	sortCandidates(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func sortCandidates(c []candidate) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && (c[j].at < c[j-1].at || c[j].at == c[j-1].at && c[j].seq < c[j-1].seq); j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}

// Lease leases up to len(op.DeliveryRands) available messages of a queue.
func (t *Txn) Lease(op *pb.Lease) LeaseResult {
	if err := checkLease(op); err != nil {
		return LeaseResult{Err: err}
	}
	cfg, ok := t.queue(op.Queue)
	if !ok {
		return LeaseResult{Err: ErrQueueNotFound}
	}
	vis := op.VisibilityNanos
	if vis <= 0 {
		vis = cfg.VisibilityTimeoutNanos
	}
	if vis <= 0 {
		vis = int64(time.Second) // a zero lease would hand the message out again at once
	}
	if vis > MaxLease {
		vis = MaxLease
	}
	var out []Delivery
	rands := op.DeliveryRands
	leased := 0
	for len(rands) > 0 && leased < MaxLeaseBytes {
		cands := t.available(op.Queue, len(rands)+8)
		if len(cands) == 0 {
			break
		}
		for _, c := range cands {
			if len(rands) == 0 || leased >= MaxLeaseBytes {
				break
			}
			rec, ok := t.message(op.Queue, c.seq)
			if !ok || (rec.State == pb.MessageState_INFLIGHT) != c.leased {
				panic("storage: index entry disagrees with its message")
			}
			if c.leased && !t.expireLease(op.Queue, cfg, rec) {
				continue // dead-lettered at maxAttempts
			}
			d := t.leaseOne(op.Queue, rec, rands[0], vis, op.AutoAck)
			out = append(out, d)
			leased += len(d.Body)
			rands = rands[1:]
		}
	}
	return LeaseResult{Deliveries: out}
}

func exhausted(cfg *pb.QueueConfig, rec *pb.MessageRecord) bool {
	return cfg.MaxAttempts > 0 && rec.Attempts >= cfg.MaxAttempts
}

// expireLease ends rec's lapsed lease exactly like a nack with no delay,
// keeping its place (available since the lease end). It reports false when
// the message was dead-lettered instead.
func (t *Txn) expireLease(q string, cfg *pb.QueueConfig, rec *pb.MessageRecord) bool {
	t.del(indexKey(pLeased, q, rec.AvailableUnixNano, rec.Seq))
	if n := len(rec.Deliveries); n > 0 {
		d := rec.Deliveries[n-1]
		d.Outcome, d.SettledUnixNano = "expired", rec.AvailableUnixNano
	}
	st := t.stat(q)
	st.Inflight--
	if exhausted(cfg, rec) {
		t.deadLetter(q, cfg, rec, "max_attempts")
		return false
	}
	rec.State = pb.MessageState_PENDING
	t.putMessage(q, rec)
	t.set(indexKey(pReady, q, rec.AvailableUnixNano, rec.Seq), nil)
	st.Pending++
	t.woken[q] = struct{}{}
	return true
}

func (t *Txn) leaseOne(q string, rec *pb.MessageRecord, rnd []byte, vis int64, autoAck bool) Delivery {
	t.del(indexKey(pReady, q, rec.AvailableUnixNano, rec.Seq))
	st := t.stat(q)
	st.Pending--
	st.Delivered++
	rec.Attempts++
	d := &pb.DeliveryRecord{Rand: rnd, Attempt: rec.Attempts, LeasedUnixNano: t.now, LeaseUntilUnixNano: addSat(t.now, vis)}
	rec.Deliveries = append(rec.Deliveries, d)
	if len(rec.Deliveries) > maxHistory {
		rec.Deliveries = rec.Deliveries[len(rec.Deliveries)-maxHistory:]
	}
	if autoAck {
		d.Outcome, d.SettledUnixNano = "ack", t.now
		t.markAcked(q, rec)
	} else {
		rec.State = pb.MessageState_INFLIGHT
		rec.AvailableUnixNano = d.LeaseUntilUnixNano
		t.set(indexKey(pLeased, q, rec.AvailableUnixNano, rec.Seq), nil)
		st.Inflight++
	}
	t.putMessage(q, rec)
	body, _, err := getBytes(t.b, msgKey(pBody, q, rec.Seq))
	if err != nil {
		panic(err)
	}
	return Delivery{Queue: q, DeliveryID: deliveryID(rec.Seq, d.Attempt, rnd), Message: rec, Body: body, LeaseExpires: d.LeaseUntilUnixNano}
}

func (t *Txn) markAcked(q string, rec *pb.MessageRecord) {
	rec.State = pb.MessageState_ACKED
	rec.AckedUnixNano = t.now
	t.set(indexKey(pGC, q, t.now, rec.Seq), nil)
	t.stat(q).Acked++
}

// Settle applies ack/nack/reject/extend items to deliveries of one queue.
func (t *Txn) Settle(op *pb.Settle) SettleResult {
	if op == nil {
		return SettleResult{Err: invalid("empty settle")}
	}
	cfg, ok := t.queue(op.Queue)
	if !ok {
		return SettleResult{Err: ErrQueueNotFound}
	}
	out := make([]SettleItemResult, len(op.Items))
	for i, it := range op.Items {
		out[i] = t.settleOne(op.Queue, cfg, it)
	}
	return SettleResult{Items: out}
}

// deliveryOf finds the delivery (attempt, rnd) in rec's history.
func deliveryOf(rec *pb.MessageRecord, attempt uint32, rnd []byte) *pb.DeliveryRecord {
	var d *pb.DeliveryRecord
	for _, x := range rec.Deliveries {
		if x.Attempt == attempt && bytes.Equal(x.Rand, rnd) {
			d = x
		}
	}
	return d
}

// LeasedBy reports whether rec is leased by its delivery d at now: the
// one lease-liveness rule, used by settle, by LeaseEnd (the SSE stream)
// and by the message views. Only the latest, unsettled delivery of an
// in-flight message whose lease end is after now holds the lease.
func LeasedBy(rec *pb.MessageRecord, d *pb.DeliveryRecord, now int64) bool {
	n := len(rec.Deliveries)
	return rec.State == pb.MessageState_INFLIGHT && n > 0 && d == rec.Deliveries[n-1] &&
		d.SettledUnixNano == 0 && rec.AvailableUnixNano > now
}

func (t *Txn) settleOne(q string, cfg *pb.QueueConfig, it *pb.SettleItem) SettleItemResult {
	if err := checkSettleItem(it); err != nil {
		return SettleItemResult{DeliveryID: it.GetDeliveryId(), Err: err}
	}
	res := SettleItemResult{DeliveryID: it.DeliveryId}
	seq, attempt, rnd, ok := parseDeliveryID(it.DeliveryId)
	if !ok {
		res.Err = ErrDeliveryNotFound
		return res
	}
	rec, ok := t.message(q, seq)
	if !ok {
		res.Err = ErrDeliveryNotFound
		return res
	}
	d := deliveryOf(rec, attempt, rnd)
	if d == nil {
		res.Err = ErrDeliveryNotFound
		return res
	}
	if !LeasedBy(rec, d, t.now) {
		res.Err = ErrLeaseExpired
		return res
	}
	leaseKey := indexKey(pLeased, q, rec.AvailableUnixNano, rec.Seq)
	if it.Action == pb.SettleAction_EXTEND {
		until := min(addSat(t.now, max(it.VisibilityNanos, 0)), addSat(d.LeasedUnixNano, MaxLease))
		t.del(leaseKey)
		rec.AvailableUnixNano, d.LeaseUntilUnixNano = until, until
		t.set(indexKey(pLeased, q, until, rec.Seq), nil)
		t.putMessage(q, rec)
		res.LeaseExpires = until
		return res
	}
	t.del(leaseKey)
	st := t.stat(q)
	st.Inflight--
	d.SettledUnixNano, d.Reason = t.now, it.Reason
	switch it.Action {
	case pb.SettleAction_ACK:
		d.Outcome = "ack"
		t.markAcked(q, rec)
		t.putMessage(q, rec)
	case pb.SettleAction_NACK:
		d.Outcome = "nack"
		if exhausted(cfg, rec) {
			t.deadLetter(q, cfg, rec, "max_attempts")
			return res
		}
		delay := it.DelayNanos
		if !it.HasDelay {
			delay = backoff(cfg, rec.Attempts)
		}
		rec.State = pb.MessageState_PENDING
		rec.AvailableUnixNano = addSat(t.now, max(delay, 0))
		t.set(indexKey(pReady, q, rec.AvailableUnixNano, rec.Seq), nil)
		t.putMessage(q, rec)
		st.Pending++
		t.woken[q] = struct{}{}
	case pb.SettleAction_REJECT:
		d.Outcome = "reject"
		if d.Reason == "" {
			d.Reason = "rejected"
		}
		t.deadLetter(q, cfg, rec, d.Reason)
	default:
		panic("storage: unknown settle action " + it.Action.String())
	}
	return res
}

// backoff is the nack delay after the given attempt: backoff[attempt-1],
// the last entry repeating.
func backoff(cfg *pb.QueueConfig, attempt uint32) int64 {
	b := cfg.BackoffNanos
	if len(b) == 0 {
		return 0
	}
	i := int(attempt) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(b) {
		i = len(b) - 1
	}
	return b[i]
}

// deadLetter moves rec, whose index entry and state counter the caller has
// already removed, out of q: into the DLQ as a fresh ready message keeping
// its messageId, or dropped when q has none. q keeps a tombstone so stale
// settles of its deliveries answer lease_expired.
func (t *Txn) deadLetter(q string, cfg *pb.QueueConfig, rec *pb.MessageRecord, reason string) {
	bodyKey := msgKey(pBody, q, rec.Seq)
	body, _, err := getBytes(t.b, bodyKey)
	if err != nil {
		panic(err)
	}
	t.del(bodyKey)
	t.stat(q).DeadLettered++
	attempts := rec.Attempts
	t.tombstone(q, rec)
	dlq := cfg.DeadLetterQueue
	if dlq == "" || dlq == q {
		return
	}
	if _, ok := t.queue(dlq); !ok {
		return
	}
	if old, ok := t.message(dlq, rec.Seq); ok {
		if old.State != pb.MessageState_TOMBSTONE {
			return // a fan-out copy already dead-lettered into the same DLQ
		}
		t.del(indexKey(pGC, dlq, old.AckedUnixNano, old.Seq))
	}
	moved := &pb.MessageRecord{
		Seq: rec.Seq, Source: rec.Source, ReceivedUnixNano: rec.ReceivedUnixNano, EventId: rec.EventId,
		ReplayOf: rec.ReplayOf, ContentType: rec.ContentType, Headers: rec.Headers, Deliveries: rec.Deliveries,
		DeadLetter: &pb.DeadLetterInfo{OriginQueue: q, Reason: reason, Attempts: attempts, DeadUnixNano: t.now},
	}
	t.insertPending(dlq, moved, body)
}

// tombstone turns rec into a tombstone of q (no body, no headers), collected
// after q's retention.
func (t *Txn) tombstone(q string, rec *pb.MessageRecord) {
	tomb := &pb.MessageRecord{
		Seq: rec.Seq, State: pb.MessageState_TOMBSTONE, AckedUnixNano: t.now, Deliveries: rec.Deliveries,
		ReceivedUnixNano: rec.ReceivedUnixNano,
	}
	t.putMessage(q, tomb)
	t.set(indexKey(pGC, q, t.now, rec.Seq), nil)
}
