package api

import (
	"errors"
	"sync"
	"time"

	"github.com/hookq/hookq/broker"
)

// window is the set of deliveries a stream (SSE or gRPC Consume) sent and
// that are still unsettled as far as it knows: the measure of its
// in-flight bound. Settlements made through this Server reach it at once
// (streamSet.settled posts them); a lease that ran out, or a settlement
// made elsewhere (another node), is noticed by re-reading the lease
// (expire, recheckAll). Only the stream's goroutine touches held; events,
// credits and wake are guarded by mu.
type window struct {
	srv  *Server
	q    string
	held map[string]*heldDelivery

	mu      sync.Mutex
	events  []settleEvent
	credits int           // gRPC Consume: credits granted but not yet applied
	wake    chan struct{} // capacity 1: "events or credits have something"
}

// heldDelivery is a delivery a stream sent and that is still unsettled,
// as far as the stream knows.
type heldDelivery struct {
	leaseEnd time.Time
}

// settleEvent is one settlement a stream hears of.
type settleEvent struct {
	id       string
	leaseEnd int64 // 0: settled; else the extended lease end
}

func newWindow(s *Server, q string) *window {
	return &window{srv: s, q: q, held: map[string]*heldDelivery{}, wake: make(chan struct{}, 1)}
}

// post queues settlements for the stream and wakes it.
func (st *window) post(evs ...settleEvent) {
	st.mu.Lock()
	st.events = append(st.events, evs...)
	st.mu.Unlock()
	st.notify()
}

// grant queues n more credits for the stream and wakes it.
func (st *window) grant(n int) {
	st.mu.Lock()
	st.credits += n
	st.mu.Unlock()
	st.notify()
}

func (st *window) notify() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// applyEvents applies the settlements heard since the last call and
// returns the credits granted since then.
func (st *window) applyEvents() (credits int) {
	st.mu.Lock()
	evs := st.events
	st.events = nil
	credits, st.credits = st.credits, 0
	st.mu.Unlock()
	for _, ev := range evs {
		h, ok := st.held[ev.id]
		if !ok {
			continue
		}
		if ev.leaseEnd == 0 {
			delete(st.held, ev.id)
			continue
		}
		h.leaseEnd = time.Unix(0, ev.leaseEnd)
	}
	return credits
}

// hold records ds as held, before the client can see their ids, so no
// settlement is missed.
func (st *window) hold(ds []broker.Delivery) {
	for _, d := range ds {
		st.held[d.DeliveryID] = &heldDelivery{leaseEnd: d.LeaseExpires}
		st.srv.streams.hold(st.q, d.DeliveryID, st)
	}
}

// expire re-reads the held deliveries whose lease end has passed: each is
// freed unless it was extended through another path.
func (st *window) expire(now time.Time) {
	for id, h := range st.held {
		if now.Before(h.leaseEnd) {
			continue
		}
		st.refresh(id, h, now)
	}
}

// recheckAll re-reads every held delivery.
func (st *window) recheckAll(now time.Time) {
	for id, h := range st.held {
		st.refresh(id, h, now)
	}
}

// refresh asks the broker whether the delivery still holds its lease: if
// so its lease end is updated; otherwise the slot is freed.
func (st *window) refresh(id string, h *heldDelivery, now time.Time) {
	end, live, err := st.srv.cons.LeaseEnd(st.q, id)
	switch {
	case err == nil:
		if live {
			h.leaseEnd = end
			return
		}
	default:
		if now.Before(h.leaseEnd) {
			return // cannot tell: keep the slot until the lease runs out
		}
	}
	delete(st.held, id)
	st.srv.streams.release(st.q, id)
}

func (st *window) earliestEnd() (time.Time, bool) {
	var end time.Time
	for _, h := range st.held {
		if end.IsZero() || h.leaseEnd.Before(end) {
			end = h.leaseEnd
		}
	}
	return end, !end.IsZero()
}

// releaseAll forgets the stream's held deliveries; their leases simply run
// out (or are settled by the client).
func (st *window) releaseAll() {
	ids := make([]string, 0, len(st.held))
	for id := range st.held {
		ids = append(ids, id)
	}
	st.srv.streams.release(st.q, ids...)
}

// noteSettled tells the streams of this Server about the outcome of a
// settle of q: every settled item frees its slot (an extend moves its
// lease end), and so does every stale one, since a delivery whose lease
// ended or that does not exist is not unsettled any more. It also counts
// the settlements.
func (s *Server) noteSettled(q string, items []broker.SettleItem, res []broker.SettleItemResult) {
	evs := make([]settleEvent, 0, len(res))
	for i, it := range res {
		switch {
		case it.Err == nil:
			s.metrics.settled.WithLabelValues(q, items[i].Action.String()).Inc()
			ev := settleEvent{id: it.DeliveryID}
			if items[i].Action == broker.Extend {
				ev.leaseEnd = it.LeaseExpires.UnixNano()
			}
			evs = append(evs, ev)
		case errors.Is(it.Err, broker.ErrLeaseExpired), errors.Is(it.Err, broker.ErrDeliveryNotFound):
			evs = append(evs, settleEvent{id: it.DeliveryID})
		}
	}
	s.streams.settledAll(q, evs)
}
