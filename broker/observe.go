package broker

import (
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/hookq/hookq/internal/logging"
)

// hclogFor is the logger hashicorp/raft's part name writes to: the node's
// slog logger at its level, routine peer trouble as warnings, repeats
// held back (internal/logging).
func hclogFor(b *Broker, name string) hclog.Logger {
	return logging.NewHCLog(b.cfg.Logger, "raft-"+name)
}

// startObserving builds the node's metrics (registering them when the
// config has a registry) and, on a Raft node, watches leadership and
// membership: it logs every change at info and counts leader changes.
func (b *Broker) startObserving() error {
	b.obs = newNodeMetrics(b)
	if b.cfg.Registry != nil {
		if err := b.cfg.Registry.Register(b.obs); err != nil {
			return err
		}
	}
	if b.raft == nil {
		return nil
	}
	ch := make(chan raft.Observation, 64)
	o := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.PeerObservation:
			return true
		}
		return false
	})
	b.raft.RegisterObserver(o)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.raft.DeregisterObserver(o)
		b.watchRaft(ch)
	}()
	return nil
}

// stopObserving unregisters the node's metrics.
func (b *Broker) stopObserving() {
	if b.obs != nil && b.cfg.Registry != nil {
		b.cfg.Registry.Unregister(b.obs)
	}
}

// watchRaft logs leadership and membership changes until the node closes.
func (b *Broker) watchRaft(ch <-chan raft.Observation) {
	log := b.cfg.Logger
	self := raft.ServerID(b.cfg.NodeID)
	// A node starts knowing no leader; one elected before the observer
	// was registered is a change like any other.
	var prev raft.ServerID
	change := func(leader raft.ServerID) {
		if leader == prev {
			return
		}
		b.obs.leaderChanges.Inc()
		term := b.raft.CurrentTerm()
		switch {
		case leader == self:
			log.Info("leadership gained", "node", b.cfg.NodeID, "term", term)
		case prev == self:
			log.Info("leadership lost", "node", b.cfg.NodeID, "term", term, "leader", string(leader))
		case leader == "":
			log.Info("no leader", "node", b.cfg.NodeID, "term", term, "previous", string(prev))
		default:
			log.Info("leader changed", "node", b.cfg.NodeID, "term", term, "leader", string(leader))
		}
		prev = leader
	}
	_, now := b.raft.LeaderWithID()
	change(now)
	for {
		select {
		case <-b.ctx.Done():
			return
		case o := <-ch:
			switch d := o.Data.(type) {
			case raft.LeaderObservation:
				change(d.LeaderID)
			case raft.PeerObservation:
				if d.Removed {
					log.Info("cluster membership changed: node removed", "peer", string(d.Peer.ID), "raft", string(d.Peer.Address))
				} else {
					log.Info("cluster membership changed: node added or updated", "peer", string(d.Peer.ID), "raft", string(d.Peer.Address), "suffrage", d.Peer.Suffrage.String())
				}
			}
		}
	}
}
