package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hookq/hookq/broker"
	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc/codes"
)

// Consume stream settings (docs/API.md §11.4).
const (
	// MaxConsumeCredits bounds a Consume stream's window: credits granted
	// past it are ignored.
	MaxConsumeCredits = 10000
	// consumeStartTimeout bounds the wait for a stream's Start.
	consumeStartTimeout = 30 * time.Second
	// consumeLeaseWait is how long one lease of a stream long-polls.
	consumeLeaseWait = 5 * time.Second
	// consumeSettlers bounds the settlements of one stream in flight; the
	// stream stops reading while they are all busy.
	consumeSettlers = 16
	// consumeSettleTimeout bounds one settlement made on a stream.
	consumeSettleTimeout = 30 * time.Second
	// consumeUnavailableGrace is how long a stream keeps re-leasing while
	// leases fail as unavailable (no leader, a leader change) before it
	// ends with Unavailable so the client reconnects, perhaps elsewhere.
	consumeUnavailableGrace = 15 * time.Second
	consumeBackoffMin       = 100 * time.Millisecond
	consumeBackoffMax       = 2 * time.Second
)

// Causes that end a Consume stream.
var (
	errStreamShutdown = fmt.Errorf("%w: server is shutting down", broker.ErrUnavailable)
	errClientDone     = errors.New("client closed its side of the stream")
)

// consumeStream is one open Consume call. Only the handler's goroutine
// touches its fields, the window's mu-guarded part aside.
type consumeStream struct {
	*window
	stream  hookqv1.Consumer_ConsumeServer
	opt     broker.LeaseOptions
	credits int // the window: most unsettled deliveries out
	timing  streamTiming
}

// Consume streams deliveries governed by credits (docs/API.md §11.4).
func (c consumerService) Consume(stream hookqv1.Consumer_ConsumeServer) error {
	s := c.s
	first, err := s.recvStart(stream)
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return badRequest("the stream must start with a Start")
	}
	q := start.GetQueue()
	p, err := grpcAuthorize(stream.Context(), "consume", q)
	if err != nil {
		return err
	}
	if start.GetCredits() < 1 {
		return badRequest("start.credits: at least 1")
	}
	vis, err := visibilityField("start.visibility", start.GetVisibility())
	if err != nil {
		return err
	}
	// A node cut off from the leader would stream nothing, which looks
	// like an empty queue: refuse instead, and let the client retry.
	if !s.ready() {
		return fmt.Errorf("%w: this node has no leader", broker.ErrUnavailable)
	}
	if _, err := s.cons.Queue(q); err != nil {
		return fmt.Errorf("queue %q: %w", q, err)
	}
	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	slot, timing, ok := s.streams.add(func() { cancel(errStreamShutdown) })
	if !ok {
		return errStreamShutdown
	}
	defer s.streams.remove(slot)
	cs := &consumeStream{
		window: newWindow(s, q), stream: stream, timing: timing,
		opt:     broker.LeaseOptions{Visibility: vis},
		credits: min(int(start.GetCredits()), MaxConsumeCredits),
	}
	defer cs.releaseAll()
	// runCtx ends with cause errRevoked when the token is revoked.
	runCtx, stopWatch := s.watchPrincipal(ctx, p, "consume", q)
	defer stopWatch()
	go cs.receive(ctx, cancel)
	err = cs.run(runCtx)
	switch cause := context.Cause(runCtx); {
	case errors.Is(cause, errRevoked):
		s.log.Info("consume stream ended: token revoked", "queue", q, "token", p.name)
		return errRevoked
	case errors.Is(cause, errClientDone):
		return nil
	case runCtx.Err() != nil && cause != nil && !errors.Is(cause, context.Canceled):
		return cause // shutdown, a bad request on the stream
	case err != nil:
		return err
	}
	return stream.Context().Err()
}

// recvStart waits for a stream's first message, at most
// consumeStartTimeout and never past the start of a shutdown.
func (s *Server) recvStart(stream hookqv1.Consumer_ConsumeServer) (*hookqv1.ConsumeRequest, error) {
	type result struct {
		req *hookqv1.ConsumeRequest
		err error
	}
	ch := make(chan result, 1)
	go func() {
		req, err := stream.Recv()
		ch <- result{req, err}
	}()
	t := time.NewTimer(consumeStartTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if errors.Is(r.err, io.EOF) {
			return nil, badRequest("the stream must start with a Start")
		}
		return r.req, r.err
	case <-t.C:
		return nil, badRequest("no Start within %v", consumeStartTimeout)
	case <-s.grpc.done:
		return nil, errStreamShutdown
	}
}

// receive reads credits and settlements until the stream ends; it ends
// the stream (cancel) when the client half-closes or sends something
// invalid.
func (cs *consumeStream) receive(ctx context.Context, cancel context.CancelCauseFunc) {
	sem := make(chan struct{}, consumeSettlers)
	for {
		req, err := cs.stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				cancel(errClientDone)
			} else {
				cancel(err)
			}
			return
		}
		switch k := req.GetKind().(type) {
		case *hookqv1.ConsumeRequest_Credits:
			cs.grant(int(k.Credits))
		case *hookqv1.ConsumeRequest_Settle:
			if q := k.Settle.GetQueue(); q != "" && q != cs.q {
				cancel(badRequest("settle.queue: %q is not the stream's queue %q", q, cs.q))
				return
			}
			items, err := settleItemsPB(k.Settle)
			if err != nil {
				cancel(err)
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer func() { <-sem }()
				cs.settle(ctx, items)
			}()
		case *hookqv1.ConsumeRequest_Start:
			cancel(badRequest("the stream is already started"))
			return
		default:
			cancel(badRequest("an empty ConsumeRequest"))
			return
		}
	}
}

// settle makes a settlement sent on the stream. It outlives the stream
// (bounded by consumeSettleTimeout): a client that settles and then hangs
// up still has its settlement made. Items that fail are left to their
// leases; the slots they hold are freed when the leases end.
func (cs *consumeStream) settle(ctx context.Context, items []broker.SettleItem) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), consumeSettleTimeout)
	defer cancel()
	if _, err := cs.srv.settlePB(sctx, cs.q, items); err != nil {
		cs.srv.log.Debug("consume stream: settle failed", "queue", cs.q, "items", len(items), "err", err)
	}
}

// run leases and sends while the window has room, until ctx ends or a
// send or lease fails.
func (cs *consumeStream) run(ctx context.Context) error {
	var recheckAt, unavailableSince time.Time
	backoff := consumeBackoffMin
	for ctx.Err() == nil {
		if n := cs.applyEvents(); n > 0 {
			cs.credits = min(cs.credits+n, MaxConsumeCredits)
		}
		now := time.Now()
		cs.expire(now)
		if free := cs.credits - len(cs.held); free > 0 {
			recheckAt = time.Time{}
			opt := cs.opt
			opt.Max, opt.Wait = min(free, maxGRPCLease), consumeLeaseWait
			ds, err := cs.srv.cons.Lease(ctx, cs.q, opt)
			if err != nil {
				if ctx.Err() != nil {
					return nil // leased or not, unsent leases run out
				}
				if broker.Classify(err).GRPCCode != codes.Unavailable {
					return fmt.Errorf("queue %q: %w", cs.q, err)
				}
				// No leader, or a leader change: lease again with
				// backoff; end with Unavailable once it lasts.
				if unavailableSince.IsZero() {
					unavailableSince = now
				} else if now.Sub(unavailableSince) > consumeUnavailableGrace {
					return fmt.Errorf("queue %q: %w", cs.q, err)
				}
				sleepCtx(ctx, backoff)
				backoff = min(2*backoff, consumeBackoffMax)
				continue
			}
			unavailableSince, backoff = time.Time{}, consumeBackoffMin
			if err := cs.send(ds); err != nil {
				return err
			}
			continue
		}
		// Full: wait for a settlement, credits, a lease end or a
		// re-check, whichever comes first.
		if recheckAt.IsZero() {
			recheckAt = now.Add(cs.timing.recheck)
		} else if !now.Before(recheckAt) {
			cs.recheckAll(now)
			recheckAt = now.Add(cs.timing.recheck)
			continue
		}
		until := recheckAt
		if end, ok := cs.earliestEnd(); ok && end.Before(until) {
			until = end
		}
		t := time.NewTimer(time.Until(until))
		select {
		case <-ctx.Done():
		case <-cs.wake:
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

// send holds the deliveries, then sends them one message each.
func (cs *consumeStream) send(ds []broker.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	cs.hold(ds)
	for i, d := range ds {
		if err := cs.stream.Send(deliveryPB(d)); err != nil {
			cs.srv.metrics.delivered.WithLabelValues(cs.q).Add(float64(i))
			return err
		}
	}
	cs.srv.metrics.delivered.WithLabelValues(cs.q).Add(float64(len(ds)))
	return nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
