package client

import (
	"context"
	"sync"
	"time"
)

// batcher settles deliveries with unary Settle calls (gRPC Settle, REST
// POST …/settle): whatever queued up while one call was out goes in the
// next, so settling keeps up with many handlers in few calls.
type batcher struct {
	e *engine

	mu      sync.Mutex
	items   []pendingSettle
	closed  bool
	kick    chan struct{}
	stopped chan struct{}
}

// pendingSettle is one delivery's settlement waiting for a call.
type pendingSettle struct {
	it *inflight
	s  Settlement
}

// maxBatch is the most items one call carries (the HTTP API's limit is
// 1000).
const maxBatch = 500

func newBatcher(e *engine) *batcher {
	b := &batcher{e: e, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	go b.loop()
	return b
}

// add queues a delivery's settlement. After close, the settlement is
// dropped (the lease runs out and the message is delivered again).
func (b *batcher) add(it *inflight, s Settlement) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.e.log.Warn("consume: settlement after shutdown dropped; the message will be delivered again", "deliveryId", it.d.Meta.DeliveryID)
		b.e.release(it)
		return
	}
	b.items = append(b.items, pendingSettle{it, s})
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// close flushes what is queued and stops the batcher.
func (b *batcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	<-b.stopped
}

func (b *batcher) loop() {
	defer close(b.stopped)
	for range b.kick {
		for {
			b.mu.Lock()
			n := min(len(b.items), maxBatch)
			items := b.items[:n:n]
			b.items = b.items[n:]
			closed := b.closed && len(b.items) == 0
			b.mu.Unlock()
			if n > 0 {
				var s Settlement
				for _, p := range items {
					s.merge(p.s)
				}
				b.send(items, s)
				continue
			}
			if closed {
				return
			}
			break
		}
	}
}

// send makes one Settle call, retrying an unavailable answer with backoff
// for up to 30s (the settlement is idempotent: a repeat answers
// lease_expired), then releases the items.
func (b *batcher) send(items []pendingSettle, s Settlement) {
	bo := backoff{min: 100 * time.Millisecond, max: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.e.bg, 10*time.Second)
		rs, err := b.e.c.Settle(ctx, b.e.queue, s)
		cancel()
		if err == nil {
			for _, r := range rs {
				if r.Status != SettleOK {
					b.e.log.Debug("consume: settlement found the lease ended", "deliveryId", r.DeliveryID, "status", r.Status)
				}
			}
			break
		}
		if permanent(err) || time.Now().After(deadline) {
			b.e.log.Warn("consume: settling failed; the messages will be delivered again", "items", len(items), "err", err)
			break
		}
		time.Sleep(bo.next())
	}
	for _, p := range items {
		b.e.release(p.it)
	}
}
