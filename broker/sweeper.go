package broker

import (
	"context"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
)

const (
	sweepInterval = 200 * time.Millisecond
	sweepLimit    = 1000
)

// sweep runs on the leader: whenever a lease has lapsed, an acked message
// or tombstone is past retention, or a dedup entry has expired, it proposes
// a Sweep command. The state machine does the work; the sweeper only
// decides when, so all nodes change state identically.
func (b *Broker) sweep(ctx context.Context) {
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		for b.store.SweepDue(time.Now().UnixNano()) {
			r, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_Sweep{Sweep: &pb.Sweep{Limit: sweepLimit}}})
			if err != nil {
				b.cfg.Logger.Debug("sweep", "err", err)
				break
			}
			if r.Count < sweepLimit {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
