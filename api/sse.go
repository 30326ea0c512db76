package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hookq/hookq/broker"
)

// SSE settings of docs/API.md §6.7.
const (
	defaultKeepAlive   = 15 * time.Second
	defaultMaxInFlight = 16
	maxMaxInFlight     = 1000
	// defaultRecheck is how often a full stream re-reads its held
	// deliveries, to notice settlements that did not go through this
	// Server (another node).
	defaultRecheck = 2 * time.Second
	// streamWriteTimeout bounds one write to a client that stopped reading.
	streamWriteTimeout = 30 * time.Second
)

// streamTiming is the timing of SSE streams; tests shorten it.
type streamTiming struct {
	keepAlive time.Duration // silence before a keep-alive frame
	recheck   time.Duration // while full, how often held deliveries are re-read
}

// streamSet tracks the open streams (SSE and gRPC Consume): their cancel
// funcs, so Shutdown can end them, and which stream's window holds each
// delivery it sent, so that a settlement made through this Server (REST,
// the Settle RPC, any stream) frees that stream's slot at once.
//
// Lock order: streamSet.mu, then window.mu; settled releases the first
// before taking the second, and no path nests them the other way.
type streamSet struct {
	mu      sync.Mutex
	timing  streamTiming
	closing bool
	cancels map[int]func()
	next    int
	holders map[holdKey]*window
}

// holdKey names a delivery of a queue.
type holdKey struct{ q, id string }

func newStreamSet() *streamSet {
	return &streamSet{
		timing:  streamTiming{keepAlive: defaultKeepAlive, recheck: defaultRecheck},
		cancels: map[int]func(){},
		holders: map[holdKey]*window{},
	}
}

// add registers a stream's cancel func; false once Shutdown has begun.
func (s *streamSet) add(cancel func()) (int, streamTiming, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return 0, s.timing, false
	}
	s.next++
	s.cancels[s.next] = cancel
	return s.next, s.timing, true
}

func (s *streamSet) remove(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cancels, id)
}

func (s *streamSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for _, c := range s.cancels {
		c()
	}
}

// hold records that st holds delivery id of q.
func (s *streamSet) hold(q, id string, st *window) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holders[holdKey{q, id}] = st
}

// release forgets deliveries of q (settled, expired, or their stream ended).
func (s *streamSet) release(q string, ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.holders, holdKey{q, id})
	}
}

// settled is the hook every successful settlement through this Server
// calls: leaseEnd is 0 when the lease ended (ack, nack, reject), or the
// new lease end (unix nanos) of an extend. The stream holding the
// delivery, if any, hears of it.
func (s *streamSet) settled(q, id string, leaseEnd int64) {
	s.settledAll(q, []settleEvent{{id: id, leaseEnd: leaseEnd}})
}

// settledAll is settled for the items of one settle: each stream hears of
// its deliveries at once, so it leases for all the slots they free.
func (s *streamSet) settledAll(q string, evs []settleEvent) {
	var by map[*window][]settleEvent
	s.mu.Lock()
	for _, ev := range evs {
		k := holdKey{q, ev.id}
		st := s.holders[k]
		if st == nil {
			continue
		}
		if ev.leaseEnd == 0 {
			delete(s.holders, k)
		}
		if by == nil {
			by = map[*window][]settleEvent{}
		}
		by[st] = append(by[st], ev)
	}
	s.mu.Unlock()
	for st, evs := range by {
		st.post(evs...)
	}
}

// sseStream is one open GET /v1/queues/{q}/stream. Only the handler's
// goroutine touches its fields (the window's mu-guarded part aside).
type sseStream struct {
	*window
	w      http.ResponseWriter
	rc     *http.ResponseController
	max    int
	opt    broker.LeaseOptions
	timing streamTiming
	last   time.Time // when the last frame (or the headers) went out
	buf    bytes.Buffer
}

// handleStream: GET /v1/queues/{q}/stream — SSE, at most maxInFlight
// unsettled deliveries at a time (docs/API.md §6.7).
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request, q string) {
	maxInFlight, err := queryInt(r, "maxInFlight", defaultMaxInFlight, 1, maxMaxInFlight)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	vis, autoAck, err := leaseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// A node cut off from the leader would stream nothing, which looks
	// like an empty queue: refuse instead, and let the client retry.
	if !s.ready() {
		s.writeError(w, r, fmt.Errorf("%w: this node has no leader", broker.ErrUnavailable))
		return
	}
	if _, err := s.cons.Queue(q); err != nil {
		s.writeError(w, r, fmt.Errorf("queue %q: %w", q, err))
		return
	}
	// consumer checked the token; the stream keeps checking it, and ends
	// once it is deleted (on any node) or no longer holds the scope.
	p, err := s.authenticate(r)
	if err == nil && !p.can("consume", q) {
		err = errForbidden
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	slot, timing, ok := s.streams.add(cancel)
	if !ok {
		s.writeError(w, r, fmt.Errorf("%w: server is shutting down", broker.ErrUnavailable))
		return
	}
	defer s.streams.remove(slot)

	rc := http.NewResponseController(w)
	defer cutWritesOnDone(ctx, rc)()
	st := &sseStream{
		window: newWindow(s, q), w: w, rc: rc, max: maxInFlight, timing: timing,
		opt: broker.LeaseOptions{Visibility: vis, AutoAck: autoAck},
	}
	defer st.releaseAll()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		s.log.Debug("stream: flush headers", "queue", q, "err", err)
		return
	}
	st.last = time.Now()
	// runCtx ends with cause errRevoked when the token is revoked; ctx
	// (which cuts writes) stays open so the error frame can be written.
	runCtx, stopWatch := s.watchPrincipal(ctx, p, "consume", q)
	defer stopWatch()
	err = st.run(runCtx)
	switch {
	case ctx.Err() != nil:
	case errors.Is(context.Cause(runCtx), errRevoked):
		s.log.Info("stream ended: token revoked", "queue", q, "token", p.name)
		st.writeErrorFrame(errRevoked)
	case err != nil:
		s.log.Debug("stream ended", "queue", q, "err", err)
		st.writeErrorFrame(err)
	}
}

// cutWritesOnDone makes a write blocked on a client that stopped reading
// fail as soon as ctx ends (Shutdown, disconnect). The returned stop must
// run before the handler returns: it gives the server streamWriteTimeout
// to write the end of the response, and after it the cut never fires.
func cutWritesOnDone(ctx context.Context, rc *http.ResponseController) (stop func()) {
	var mu sync.Mutex
	done := false
	unregister := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			_ = rc.SetWriteDeadline(time.Now())
		}
	})
	return func() {
		unregister()
		mu.Lock()
		done = true
		mu.Unlock()
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	}
}

// run leases and sends until ctx ends or a write or lease fails.
func (st *sseStream) run(ctx context.Context) error {
	var recheckAt time.Time
	for ctx.Err() == nil {
		st.applyEvents()
		now := time.Now()
		st.expire(now)
		if !now.Before(st.last.Add(st.timing.keepAlive)) {
			if err := st.writeFrame(ctx, "event: keep-alive\ndata: {}\n\n"); err != nil {
				return err
			}
			now = time.Now()
		}
		keepAliveDue := st.last.Add(st.timing.keepAlive)
		if free := st.max - len(st.held); free > 0 {
			recheckAt = time.Time{}
			opt := st.opt
			opt.Max, opt.Wait = free, keepAliveDue.Sub(now)
			ds, err := st.srv.cons.Lease(ctx, st.q, opt)
			if err != nil {
				if ctx.Err() != nil {
					return nil // leased or not, unsent leases run out
				}
				return fmt.Errorf("queue %q: %w", st.q, err)
			}
			if err := st.send(ctx, ds); err != nil {
				return err
			}
			continue
		}
		// Full: wait for a settlement, a lease end, a keep-alive or a
		// re-check, whichever comes first.
		if recheckAt.IsZero() {
			recheckAt = now.Add(st.timing.recheck)
		} else if !now.Before(recheckAt) {
			st.recheckAll(now)
			recheckAt = now.Add(st.timing.recheck)
			continue
		}
		until := keepAliveDue
		if recheckAt.Before(until) {
			until = recheckAt
		}
		if end, ok := st.earliestEnd(); ok && end.Before(until) {
			until = end
		}
		t := time.NewTimer(time.Until(until))
		select {
		case <-ctx.Done():
		case <-st.wake:
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

// send holds the deliveries (before the client can see their ids, so no
// settlement is missed) and writes one frame per delivery.
func (st *sseStream) send(ctx context.Context, ds []broker.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	if !st.opt.AutoAck {
		st.hold(ds)
	}
	st.buf.Reset()
	for _, d := range ds {
		data, err := asciiJSON(st.srv.envelope(d))
		if err != nil {
			return fmt.Errorf("encoding delivery %s: %w", d.DeliveryID, err)
		}
		fmt.Fprintf(&st.buf, "event: message\nid: %s\ndata: %s\n\n", d.DeliveryID, data)
	}
	st.srv.metrics.delivered.WithLabelValues(st.q).Add(float64(len(ds)))
	return st.flush(ctx)
}

func (st *sseStream) writeFrame(ctx context.Context, frame string) error {
	st.buf.Reset()
	st.buf.WriteString(frame)
	return st.flush(ctx)
}

// flush writes buf and flushes it to the client, bounded by
// streamWriteTimeout and cut short when ctx ends.
func (st *sseStream) flush(ctx context.Context) error {
	_ = st.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if err := ctx.Err(); err != nil {
		return err // cutWritesOnDone may have run before the line above
	}
	if _, err := st.w.Write(st.buf.Bytes()); err != nil {
		return err
	}
	if err := st.rc.Flush(); err != nil {
		return err
	}
	st.last = time.Now()
	return nil
}

// writeErrorFrame tells the client why the stream ends (best effort):
// event "error" with the error body of docs/API.md §2.6 as data.
func (st *sseStream) writeErrorFrame(err error) {
	_, code := classify(err)
	var body errorBody
	body.Error.Code, body.Error.Message = code, err.Error()
	if code == "internal" {
		body.Error.Message = "internal error"
	}
	data, _ := asciiJSON(body)
	_ = st.writeFrame(context.Background(), "event: error\ndata: "+string(data)+"\n\n")
}
