package client

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// defaultVisibility is the queues' default visibility timeout
// (docs/API.md §3.1).
const defaultVisibility = 30 * time.Second

// Handler processes one delivery. Its result settles the delivery:
//
//   - nil acks it;
//   - an error made by Reject (or wrapping one) dead-letters the message;
//   - an error made by Retry (or wrapping one) nacks it with redelivery
//     after Retry's delay;
//   - any other error nacks it with the queue's backoff, the error's text
//     as the reason. A panic counts as an error.
//
// ctx is cancelled when the delivery's lease is lost (the message will be
// delivered again, so the work may stop) and when Consume stops waiting
// for handlers at shutdown. It is not cancelled merely because Consume's
// own context was: handlers running then are allowed to finish.
type Handler func(ctx context.Context, d *Delivery) error

// ConsumeOptions shape Consume; the zero value runs one handler at a time
// with one delivery leased ahead.
type ConsumeOptions struct {
	// Concurrency is how many handlers run at once (default 1).
	Concurrency int
	// Prefetch is how many deliveries are leased ahead of the handlers, so
	// a finishing handler finds its next message waiting: 0 means
	// Concurrency/4 (at least 1), a negative value none. The unsettled
	// deliveries Consume holds never exceed Concurrency + Prefetch (the
	// credits of the gRPC stream).
	Prefetch int
	// Visibility is the lease length (1s..12h; 0: the queue's).
	Visibility time.Duration
	// NoAutoExtend turns off extending leases: by default a delivery's
	// lease is extended by its length whenever half of what remains of it
	// has passed, for as long as its handler runs.
	NoAutoExtend bool
	// ShutdownTimeout bounds how long Consume waits, once its context is
	// cancelled, for running handlers to finish (default 30s). Then their
	// contexts are cancelled and Consume returns; their leases run out.
	ShutdownTimeout time.Duration
	// MinBackoff and MaxBackoff bound the jittered exponential wait
	// between reconnects (defaults 100ms and 10s).
	MinBackoff, MaxBackoff time.Duration
}

func (o ConsumeOptions) normalized() ConsumeOptions {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	switch {
	case o.Prefetch == 0:
		o.Prefetch = max(1, o.Concurrency/4)
	case o.Prefetch < 0:
		o.Prefetch = 0
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	return o
}

// Consume runs h over the messages of queue until ctx is cancelled, with
// up to opts.Concurrency handlers at once; each handler's result settles
// its delivery (see Handler).
//
// Over gRPC, Consume holds one Consume stream whose credits are
// Concurrency + Prefetch, and settles on the stream. Over REST it leases
// in batches (POST …/lease) and settles in batches (POST …/settle). Either
// way it reconnects with jittered exponential backoff after a transport
// failure or an unavailable answer, and extends the leases of deliveries
// still being handled (unless opts.NoAutoExtend).
//
// When ctx is cancelled, Consume stops taking messages, hands deliveries
// leased but not yet started back at once (a nack without delay), waits
// up to opts.ShutdownTimeout for running handlers, settles their results
// and returns nil. It returns an error, after the same shutdown, when
// hookq refuses the consumer for good: unknown queue, missing scope,
// unknown token, bad options.
//
// Delivery is at least once: a handler can see a message again (attempt
// > 1) after a lost lease, a failed settlement or a node failure.
func (c *Client) Consume(ctx context.Context, queue string, h Handler, opts ConsumeOptions) error {
	if h == nil {
		return fmt.Errorf("hookq consume %s: nil handler", queue)
	}
	e := newEngine(ctx, c, queue, h, opts.normalized())
	var err error
	if c.transport == TransportGRPC {
		err = e.runGRPC(ctx)
	} else {
		err = e.runREST(ctx)
	}
	e.shutdown()
	return err
}

// engine is one Consume call: a pool of handlers fed by a stream (gRPC)
// or a lease loop (REST), and the settlement paths back.
//
// Lock order: engine.mu before stream.mu; inflight.mu is never held with
// either.
type engine struct {
	ctx    context.Context // Consume's: once it ends, no handler starts
	c      *Client
	queue  string
	h      Handler
	o      ConsumeOptions
	window int
	log    *slog.Logger

	// bg outlives Consume's context: settlements and extensions of
	// running handlers go on during shutdown. hctx is the handlers' base
	// context, cancelled at the end of the shutdown wait.
	bg      context.Context
	hctx    context.Context
	hcancel context.CancelFunc

	work    chan *inflight // leased, not yet started; never more than window
	workers sync.WaitGroup
	unary   *batcher // settlements made with unary Settle calls

	mu          sync.Mutex
	outstanding int                    // leased and not yet settled (or dropped)
	live        map[*inflight]struct{} // the deliveries outstanding counts
	cur         *stream                // the live gRPC stream, if any
	freed       chan struct{}          // signalled (cap 1) when outstanding falls
}

func newEngine(ctx context.Context, c *Client, queue string, h Handler, o ConsumeOptions) *engine {
	e := &engine{
		ctx: ctx, c: c, queue: queue, h: h, o: o,
		window: o.Concurrency + o.Prefetch,
		log:    c.log.With("queue", queue),
		bg:     context.WithoutCancel(ctx),
		freed:  make(chan struct{}, 1),
		live:   map[*inflight]struct{}{},
	}
	e.hctx, e.hcancel = context.WithCancel(e.bg)
	e.work = make(chan *inflight, e.window)
	e.unary = newBatcher(e)
	e.workers.Add(o.Concurrency)
	for range o.Concurrency {
		go e.worker()
	}
	return e
}

// inflight is one delivery Consume holds.
type inflight struct {
	d      Delivery
	st     *stream // the stream it came on (nil over REST)
	ctx    context.Context
	cancel context.CancelFunc
	lease  time.Duration // length of each extension

	mu    sync.Mutex
	timer *time.Timer
	done  bool // settled or dropped: no more extensions
	lost  bool // the lease ended under us
}

// admit records a new delivery and queues it for a handler.
func (e *engine) admit(d Delivery, st *stream) {
	it := &inflight{d: d, st: st}
	it.ctx, it.cancel = context.WithCancel(e.hctx)
	remaining := time.Until(d.Meta.LeaseExpiresAt)
	// Each extension asks for the lease's length: the asked visibility,
	// else what remained of the lease on arrival, else (a clock far off
	// the server's) the default visibility.
	it.lease = e.o.Visibility
	if it.lease <= 0 {
		it.lease = remaining.Round(time.Millisecond)
		if it.lease < time.Second {
			it.lease = defaultVisibility
		}
	}
	if !e.o.NoAutoExtend {
		it.mu.Lock()
		it.timer = time.AfterFunc(max(remaining/2, 0), func() { e.extend(it) })
		it.mu.Unlock()
	}
	e.mu.Lock()
	e.outstanding++
	e.live[it] = struct{}{}
	e.mu.Unlock()
	e.work <- it
}

// worker runs handlers until work is closed.
func (e *engine) worker() {
	defer e.workers.Done()
	for it := range e.work {
		stopping := e.ctx.Err() != nil
		it.mu.Lock()
		lost := it.lost
		it.mu.Unlock()
		switch {
		case lost:
			// Its lease ended while it waited: it is someone else's now.
			e.release(it)
		case stopping:
			// Leased ahead but not started: hand it back at once.
			e.settle(it, Settlement{Nacks: []NackItem{{DeliveryID: it.d.Meta.DeliveryID, Delay: Immediately, Reason: "consumer shutting down"}}})
		default:
			e.settle(it, settleOf(it.d.Meta.DeliveryID, e.run(it)))
		}
	}
}

// run calls the handler, turning a panic into an error.
func (e *engine) run(it *inflight) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
			e.log.Error("consume: handler panicked", "messageId", it.d.Meta.MessageID, "panic", r)
		}
	}()
	return e.h(it.ctx, &it.d)
}

// finish stops a delivery's extensions; false when it was already done.
func (it *inflight) finish() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.done {
		return false
	}
	it.done = true
	if it.timer != nil {
		it.timer.Stop()
	}
	return true
}

// settle sends a delivery's settlement: on its stream while that lives,
// with a unary Settle otherwise.
func (e *engine) settle(it *inflight, s Settlement) {
	if !it.finish() {
		return
	}
	it.cancel()
	if it.st != nil && it.st.settle(it, s) {
		return
	}
	e.unary.add(it, s)
}

// release forgets a delivery once its settlement was sent (or it was
// dropped). A delivery of an earlier stream settled by a unary call gives
// its slot to the live stream as a credit.
func (e *engine) release(it *inflight) {
	it.finish()
	it.cancel()
	e.mu.Lock()
	if _, ok := e.live[it]; !ok {
		e.mu.Unlock()
		return // released already
	}
	delete(e.live, it)
	e.outstanding--
	cur := e.cur
	e.mu.Unlock()
	select {
	case e.freed <- struct{}{}:
	default:
	}
	if it.st != nil && cur != nil && cur != it.st {
		cur.grant(1)
	}
}

// waitSlots waits until fewer than window deliveries are held and
// returns how many more may be; 0 when ctx ended first.
func (e *engine) waitSlots(ctx context.Context) int {
	for {
		e.mu.Lock()
		free := e.window - e.outstanding
		e.mu.Unlock()
		if free > 0 {
			return free
		}
		select {
		case <-ctx.Done():
			return 0
		case <-e.freed:
		}
	}
}

// extend extends a delivery's lease and schedules the next extension.
func (e *engine) extend(it *inflight) {
	it.mu.Lock()
	done := it.done
	it.mu.Unlock()
	if done {
		return
	}
	ctx, cancel := context.WithTimeout(e.bg, min(it.lease, 10*time.Second))
	err := e.c.Extend(ctx, e.queue, it.d.Meta.DeliveryID, it.lease)
	cancel()
	next := it.lease / 2
	switch {
	case err == nil:
		// The handler may be reading it.d: its LeaseExpiresAt stays the
		// first lease's end.
	case IsLeaseExpired(err) || IsNotFound(err):
		e.log.Warn("consume: lease lost while handling; the message will be delivered again",
			"messageId", it.d.Meta.MessageID, "deliveryId", it.d.Meta.DeliveryID, "err", err)
		it.mu.Lock()
		it.lost = true
		it.mu.Unlock()
		it.cancel()
		return
	default:
		// Try again soon, while the lease may still be running.
		e.log.Warn("consume: extending lease failed", "deliveryId", it.d.Meta.DeliveryID, "err", err)
		next = max(it.lease/8, 100*time.Millisecond)
	}
	it.mu.Lock()
	if !it.done {
		it.timer = time.AfterFunc(next, func() { e.extend(it) })
	}
	it.mu.Unlock()
}

// shutdown stops taking messages, lets handlers finish (bounded), and
// flushes their settlements.
func (e *engine) shutdown() {
	e.mu.Lock()
	e.cur = nil
	e.mu.Unlock()
	close(e.work)
	done := make(chan struct{})
	go func() {
		e.workers.Wait()
		close(done)
	}()
	t := time.NewTimer(e.o.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		e.log.Warn("consume: handlers still running at the shutdown timeout; cancelling them", "timeout", e.o.ShutdownTimeout)
		e.hcancel()
		// Give them a moment to see the cancellation and settle.
		select {
		case <-done:
		case <-time.After(time.Second):
		}
	}
	e.unary.close()
	e.hcancel()
	// Handlers that outlived the wait keep their deliveries, but their
	// leases are no longer extended: they run out.
	e.mu.Lock()
	abandoned := make([]*inflight, 0, len(e.live))
	for it := range e.live {
		abandoned = append(abandoned, it)
	}
	e.mu.Unlock()
	for _, it := range abandoned {
		it.finish()
	}
}

// permanent reports whether err means hookq refuses this consumer for
// good, so reconnecting is pointless.
func permanent(err error) bool {
	switch CodeOf(err) {
	case CodeUnauthenticated, CodeForbidden, CodeNotFound, CodeBadRequest:
		return true
	}
	return false
}

// backoff is a jittered exponential backoff.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) reset() { b.cur = 0 }

// next returns a wait in [d/2, d] where d doubles from min to max.
func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(half+1) // #nosec G404 -- jitter, not a secret
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
