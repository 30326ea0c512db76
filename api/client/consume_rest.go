package client

import (
	"context"
	"time"
)

// restWait is how long one batch lease waits for a first message.
const restWait = 20 * time.Second

// runREST leases in batches of the free slots and hands the deliveries to
// the handlers, until ctx ends (nil) or hookq refuses the consumer.
func (e *engine) runREST(ctx context.Context) error {
	bo := backoff{min: e.o.MinBackoff, max: e.o.MaxBackoff}
	for {
		free := e.waitSlots(ctx)
		if free == 0 {
			return nil
		}
		ds, err := e.c.restLease(ctx, e.queue, LeaseOptions{Max: min(free, 1000), Wait: restWait, Visibility: e.o.Visibility})
		if ctx.Err() != nil {
			// Deliveries of a lease cut short by the cancellation are
			// lost to us; they come back when their leases end.
			for _, d := range ds {
				e.admit(d, nil)
			}
			return nil
		}
		if err != nil {
			if permanent(err) {
				e.log.Error("consume: lease refused", "err", err)
				return err
			}
			wait := bo.next()
			e.log.Warn("consume: lease failed; retrying", "err", err, "in", wait)
			if !sleep(ctx, wait) {
				return nil
			}
			continue
		}
		bo.reset()
		for _, d := range ds {
			e.admit(d, nil)
		}
	}
}
