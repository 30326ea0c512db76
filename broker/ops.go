package broker

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/hookq/hookq/ingest"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
)

// EnqueueRequest is one verified webhook to append to its source's queues.
type EnqueueRequest struct {
	Source      string
	Queues      []string
	Body        []byte
	ContentType []byte
	Headers     []Header
	EventID     string
	DedupKey    string // "" disables dedup
	DedupWindow time.Duration
}

// EnqueueResult names the message; Duplicate is true when the dedup key
// was seen inside the window and MessageID is the first message's.
type EnqueueResult struct {
	MessageID string
	Duplicate bool
}

// Enqueue appends a webhook durably: it returns only once the entry is
// committed by a Raft majority and applied.
func (b *Broker) Enqueue(ctx context.Context, req EnqueueRequest) (EnqueueResult, error) {
	return enqueueVia(ctx, b.batcher, req)
}

func enqueueVia(ctx context.Context, bt *batcher, req EnqueueRequest) (EnqueueResult, error) {
	op := &pb.Op{Kind: &pb.Op_Enqueue{Enqueue: &pb.Enqueue{
		Source: req.Source, Queues: req.Queues, Body: req.Body, ContentType: req.ContentType,
		Headers: headersPB(req.Headers), EventId: req.EventID, DedupKey: req.DedupKey, DedupWindowNanos: int64(req.DedupWindow),
	}}}
	res, err := bt.propose(ctx, op)
	if err != nil {
		return EnqueueResult{}, err
	}
	r, err := resultOf[storage.EnqueueResult](res)
	if err != nil {
		return EnqueueResult{}, err
	}
	if r.Err != nil {
		return EnqueueResult{}, r.Err
	}
	return EnqueueResult{MessageID: r.MessageID, Duplicate: r.Duplicate}, nil
}

// LeaseOptions shape one lease call.
type LeaseOptions struct {
	Max        int           // messages at most (≥ 1)
	Wait       time.Duration // long-poll: how long to wait for a first message
	Visibility time.Duration // 0: the queue's visibilityTimeout
	AutoAck    bool          // ack at delivery (at-most-once)
}

// Lease leases up to Max available messages of q, waiting up to Wait for
// the first. It returns no deliveries and no error when none arrived; a
// node without a leader it heard from recently answers ErrUnavailable
// instead, before waiting and again before answering "none".
func (b *Broker) Lease(ctx context.Context, q string, opt LeaseOptions) ([]Delivery, error) {
	if !ingest.ValidName(q) {
		return nil, ErrQueueNotFound
	}
	if opt.Max < 1 {
		opt.Max = 1
	}
	if opt.Max > MaxBatchItems {
		opt.Max = MaxBatchItems
	}
	deadline := time.Now().Add(opt.Wait)
	for {
		if err := b.checkLeader(); err != nil {
			return nil, err
		}
		wake := b.waiters.wait(q)
		if !b.store.HasQueue(q) {
			if b.selfLeads() {
				return nil, ErrQueueNotFound
			}
			// A follower may not have applied the queue's creation yet:
			// let the leader's state machine decide.
			ds, err := b.leaseNow(ctx, q, opt)
			if err != nil || len(ds) > 0 {
				return ds, err
			}
		}
		next, has := b.store.NextAvailable(q)
		now := time.Now()
		if has && next <= now.UnixNano() {
			ds, err := b.leaseNow(ctx, q, opt)
			if err != nil || len(ds) > 0 {
				return ds, err
			}
		}
		if !now.Before(deadline) {
			// "Nothing" is an answer about the leader's state: make sure
			// this node still has one and has caught up with it.
			if err := b.syncWithLeader(); err != nil {
				return nil, err
			}
			return nil, nil
		}
		until := deadline
		if has && next > now.UnixNano() && time.Unix(0, next).Before(until) {
			until = time.Unix(0, next)
		}
		// Look again at least every second, so a waiter learns that the
		// node lost its leader while it waits.
		if until.Sub(now) > time.Second {
			until = now.Add(time.Second)
		}
		timer := time.NewTimer(time.Until(until))
		select {
		case <-wake:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, nil
		case <-b.ctx.Done():
			timer.Stop()
			return nil, ErrClosed
		}
		timer.Stop()
	}
}

func (b *Broker) leaseNow(ctx context.Context, q string, opt LeaseOptions) ([]Delivery, error) {
	rands := make([][]byte, opt.Max)
	buf := make([]byte, 16*opt.Max)
	if _, err := rand.Read(buf); err != nil {
		return nil, fmt.Errorf("broker: random: %w", err)
	}
	for i := range rands {
		rands[i] = buf[i*16 : (i+1)*16]
	}
	op := &pb.Op{Kind: &pb.Op_Lease{Lease: &pb.Lease{
		Queue: q, DeliveryRands: rands, VisibilityNanos: int64(opt.Visibility), AutoAck: opt.AutoAck,
	}}}
	res, err := b.batcher.propose(ctx, op)
	if err != nil {
		return nil, err
	}
	r, err := resultOf[storage.LeaseResult](res)
	if err != nil {
		return nil, err
	}
	ds := deliveriesOf(r.Deliveries)
	for i := range ds {
		ds[i].AutoAcked = opt.AutoAck
	}
	b.obs.observeLease(q, ds)
	return ds, r.Err
}

// Settle applies ack / nack / reject / extend items to deliveries of q.
// Per-item failures (lease expired, not found) are in the results.
// A malformed deliveryId (one no lease could have produced) is answered
// not found here and never proposed.
func (b *Broker) Settle(ctx context.Context, q string, items []SettleItem) ([]SettleItemResult, error) {
	out := make([]SettleItemResult, len(items))
	var send []*pb.SettleItem
	var at []int
	for i, it := range items {
		if !validID(it.DeliveryID) {
			out[i] = SettleItemResult{DeliveryID: it.DeliveryID, Err: ErrDeliveryNotFound}
			continue
		}
		send = append(send, settleItemPB(it))
		at = append(at, i)
	}
	if len(send) == 0 {
		if !ingest.ValidName(q) {
			return nil, ErrQueueNotFound
		}
		if err := b.checkLeader(); err != nil {
			return nil, err
		}
		if !b.store.HasQueue(q) && b.selfLeads() {
			return nil, ErrQueueNotFound
		}
		return out, nil
	}
	res, err := b.batcher.propose(ctx, &pb.Op{Kind: &pb.Op_Settle{Settle: &pb.Settle{Queue: q, Items: send}}})
	if err != nil {
		return nil, err
	}
	r, err := resultOf[storage.SettleResult](res)
	if err != nil {
		return nil, err
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if len(r.Items) != len(send) {
		return nil, fmt.Errorf("%w: settle answered %d of %d items", ErrUnavailable, len(r.Items), len(send))
	}
	for j, i := range at {
		out[i] = settleResultOf(r.Items[j])
	}
	b.obs.observeSettle(q, items, out)
	return out, nil
}

// resultOf converts an apply result to the type its op produces. The state
// machine answers an op it refused with a plain storage.Result carrying
// the error, which is accepted for any T.
func resultOf[T any](res any) (T, error) {
	var zero T
	switch r := res.(type) {
	case T:
		return r, nil
	case storage.Result:
		if r.Err != nil {
			return zero, r.Err
		}
	}
	return zero, fmt.Errorf("%w: unexpected result %T", ErrUnavailable, res)
}
