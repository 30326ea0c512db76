package client

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
)

// stream is one gRPC Consume stream: deliveries come in on it, and
// settlements and credits go out on it from one sender goroutine.
type stream struct {
	e  *engine
	cs hookqv1.Consumer_ConsumeClient

	mu      sync.Mutex
	dead    bool
	pending []pendingSettle
	credits uint32
	kick    chan struct{}
	done    chan struct{} // closed when the sender has stopped
}

// settle queues a settlement on the stream; false when the stream is dead
// (then the caller settles another way).
func (st *stream) settle(it *inflight, s Settlement) bool {
	st.mu.Lock()
	if st.dead {
		st.mu.Unlock()
		return false
	}
	st.pending = append(st.pending, pendingSettle{it, s})
	st.mu.Unlock()
	st.poke()
	return true
}

// grant widens the stream's window by n deliveries.
func (st *stream) grant(n uint32) {
	st.mu.Lock()
	if !st.dead {
		st.credits += n
	}
	st.mu.Unlock()
	st.poke()
}

func (st *stream) poke() {
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

// kill marks the stream dead and hands its unsent settlements to the
// unary path.
func (st *stream) kill() {
	st.mu.Lock()
	st.dead = true
	pending := st.pending
	st.pending = nil
	st.mu.Unlock()
	st.poke()
	for _, p := range pending {
		st.e.unary.add(p.it, p.s)
	}
}

// sender sends queued credits and settlements until the stream dies.
// Each settlement sent releases its delivery; one whose send failed goes
// to the unary path.
func (st *stream) sender(ctx context.Context) {
	defer close(st.done)
	for {
		select {
		case <-ctx.Done():
			st.kill()
			return
		case <-st.kick:
		}
		st.linger(ctx)
		st.mu.Lock()
		dead, pending, credits := st.dead, st.pending, st.credits
		st.pending, st.credits = nil, 0
		st.mu.Unlock()
		if dead {
			return
		}
		var err error
		if credits > 0 {
			err = st.cs.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Credits{Credits: credits}})
		}
		for len(pending) > 0 && err == nil {
			n := min(len(pending), maxBatch)
			var s Settlement
			for _, p := range pending[:n] {
				s.merge(p.s)
			}
			err = st.cs.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Settle{Settle: settlePB(st.e.queue, s)}})
			if err == nil {
				for _, p := range pending[:n] {
					st.e.release(p.it)
				}
				pending = pending[n:]
			}
		}
		if err != nil {
			st.mu.Lock()
			st.pending = append(pending, st.pending...)
			st.mu.Unlock()
			st.kill()
			return
		}
	}
}

// settleLinger is how long the sender waits for more settlements when
// few are queued: settlements sent together free their slots together,
// so the server leases the next deliveries in one batch instead of one
// by one.
const settleLinger = time.Millisecond

// linger waits up to settleLinger while fewer than a quarter of the
// window's settlements are queued.
func (st *stream) linger(ctx context.Context) {
	want := max(1, st.e.window/4)
	deadline := time.Now().Add(settleLinger)
	for {
		st.mu.Lock()
		n := len(st.pending)
		st.mu.Unlock()
		left := time.Until(deadline)
		if n == 0 || n >= want || left <= 0 {
			return
		}
		t := time.NewTimer(left)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-st.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// runGRPC holds a Consume stream, opening a new one after each failure,
// until ctx ends (nil) or hookq refuses the consumer (the error).
func (e *engine) runGRPC(ctx context.Context) error {
	bo := backoff{min: e.o.MinBackoff, max: e.o.MaxBackoff}
	for ctx.Err() == nil {
		if e.waitSlots(ctx) == 0 {
			return nil
		}
		started := time.Now()
		got, err := e.streamOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if permanent(err) {
			e.log.Error("consume: stream refused", "err", err)
			return err
		}
		if got > 0 || time.Since(started) > time.Minute {
			bo.reset()
		}
		wait := bo.next()
		e.log.Warn("consume: stream ended; reconnecting", "err", err, "in", wait)
		if !sleep(ctx, wait) {
			return nil
		}
	}
	return nil
}

// streamOnce runs one Consume stream until it fails, returning how many
// deliveries it brought and why it ended.
func (e *engine) streamOnce(ctx context.Context) (int, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs, err := e.c.consumer.Consume(sctx)
	if err != nil {
		return 0, fromGRPC("consume", err)
	}
	st := &stream{e: e, cs: cs, kick: make(chan struct{}, 1), done: make(chan struct{})}
	// The window of the new stream is what the deliveries of earlier
	// streams, still being handled, leave free; each of them settled
	// later grants its slot to this stream (release).
	e.mu.Lock()
	credits := e.window - e.outstanding
	e.cur = st
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		if e.cur == st {
			e.cur = nil
		}
		e.mu.Unlock()
		st.kill()
		cancel()
		<-st.done
	}()
	start := &hookqv1.Start{Queue: e.queue, Credits: uint32(max(credits, 1)), Visibility: durPB(e.o.Visibility)} // #nosec G115 -- credits ≤ window, an int of the caller's options
	if err := cs.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Start{Start: start}}); err != nil {
		// The stream's own error comes with Recv.
		if _, rerr := cs.Recv(); rerr != nil {
			err = rerr
		}
		close(st.done) // no sender was started
		return 0, streamErr(err)
	}
	go st.sender(sctx)
	got := 0
	for {
		d, err := cs.Recv()
		if err != nil {
			return got, streamErr(err)
		}
		got++
		e.admit(deliveryOfPB(d), st)
	}
}

// streamErr classifies the error a stream ended with; io.EOF (the server
// closed the stream without a status) counts as unavailable.
func streamErr(err error) error {
	if errors.Is(err, io.EOF) {
		return transportError("consume", errors.New("stream closed by the server"))
	}
	return fromGRPC("consume", err)
}
