package broker

import (
	"context"
	"fmt"
	"time"
)

// leaderSyncTimeout bounds one read-index round trip to the leader.
const leaderSyncTimeout = 2 * time.Second

// checkLeader answers ErrUnavailable unless this node leads (and has
// applied everything committed before its term) or follows a leader it
// heard from within a heartbeat timeout (it heartbeats ten times as often). Reads that could answer
// "absent" or "empty" call it first: a node cut off from the majority must
// not make an empty queue out of a queue it cannot see.
func (b *Broker) checkLeader() error {
	if b.closed.Load() {
		return ErrClosed
	}
	if b.selfLeads() {
		if !b.readable.Load() {
			return fmt.Errorf("%w: new leader catching up", ErrUnavailable)
		}
		return nil
	}
	if _, id := b.raft.LeaderWithID(); id == "" {
		return fmt.Errorf("%w: no leader", ErrUnavailable)
	}
	limit := b.cfg.Raft.HeartbeatTimeout
	if last := b.raft.LastContact(); last.IsZero() || time.Since(last) > limit {
		return fmt.Errorf("%w: no word from the leader in %s", ErrUnavailable, limit)
	}
	return nil
}

// syncWithLeader returns once this node has applied everything the leader
// had committed when the call began (a read index). The leader itself has
// (checkLeader). Concurrent callers share round trips.
func (b *Broker) syncWithLeader() error {
	if err := b.checkLeader(); err != nil {
		return err
	}
	if b.selfLeads() {
		return nil
	}
	return b.leaderSync.Do(func() error {
		ctx, cancel := context.WithTimeout(b.ctx, leaderSyncTimeout)
		defer cancel()
		l := b.cluster.get()
		if l == nil {
			return fmt.Errorf("%w: asking the leader: %v", ErrUnavailable, errNoCluster)
		}
		commit, err := l.CommitIndex(ctx)
		if err != nil {
			return fmt.Errorf("%w: asking the leader: %v", ErrUnavailable, err)
		}
		b.waitApplied(ctx, commit)
		if b.store.AppliedIndex() < commit {
			return fmt.Errorf("%w: not caught up with the leader", ErrUnavailable)
		}
		return nil
	})
}
