package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/hookq/hookq/internal/coalesce"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"
)

// Broker is one running node.
type Broker struct {
	cfg       Config
	store     *storage.Store
	fsm       *raftfsm.FSM
	raft      *raft.Raft // nil for a node opened with OpenLocal
	local     *localLog  // the log of a node opened with OpenLocal
	logs      *raftboltdb.BoltStore
	transport *raft.NetworkTransport
	layer     *streamLayer
	batcher   *batcher
	waiters   *waiters
	cluster   clusterRef // the node's cluster side (SetCluster)
	applied   appliedSignal
	metrics   prometheus.Registerer // where the FSM's collector is registered
	obs       *nodeMetrics          // the node's metrics (metrics.go)
	// leaderSync coalesces read-index round trips to the leader.
	leaderSync coalesce.Group

	// readable is set once this node, as leader, has applied everything
	// committed before its term (Barrier), so local reads are current.
	readable atomic.Bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// Open starts a node: opens its stores, starts Raft, and bootstraps a new
// cluster when the node has no state and is not waiting to join.
func Open(cfg Config) (*Broker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, waiters: newWaiters()}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			b.closeStores() // #nosec G104 -- cleanup on a failed Open: the Open error is the one returned
		}
	}()

	if err := checkDataFormat(cfg.DataDir); err != nil {
		return nil, err
	}
	raftDir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	store, err := storage.Open(filepath.Join(cfg.DataDir, "fsm"))
	if err != nil {
		return nil, err
	}
	b.store = store
	b.fsm = raftfsm.NewWithOptions(store, raftfsm.Options{Notify: b.waiters.notify, Logger: cfg.Logger})
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(b.fsm.Collector()); err != nil {
			return nil, fmt.Errorf("broker: metrics: %w", err)
		}
		b.metrics = cfg.Registry
	}

	b.logs, err = raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(raftDir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
	})
	if err != nil {
		return nil, fmt.Errorf("broker: raft log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 2, b.hclog("snapshots"))
	if err != nil {
		return nil, fmt.Errorf("broker: snapshots: %w", err)
	}
	b.layer, err = newStreamLayer(cfg.RaftAddr, cfg.ClusterTLS, cfg.ClusterKey, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("broker: raft address %q: %w", cfg.RaftAddr, err)
	}
	if cfg.ClusterTLS == nil && cfg.ClusterKey == "" {
		cfg.Logger.Warn("the Raft port is UNAUTHENTICATED: no cluster TLS and no cluster key, so anyone who can reach it can rewrite this node's state; set --cluster-key (or --admin-token) or --cluster-ca", "raft", cfg.RaftAddr)
	}
	b.transport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: b.layer, MaxPool: 8, Timeout: 10 * time.Second, Logger: b.hclog("transport"),
	})

	rc := b.raftConfig()
	// The store is normally at or past the newest snapshot, and Raft need
	// only replay the log after it. A crash between saving an installed
	// snapshot and restoring it (or a failed restore) leaves the store
	// behind the snapshot, whose entries may be gone from the log: then
	// let Raft restore the snapshot into the FSM on start.
	if metas, err := snaps.List(); err == nil && len(metas) > 0 && metas[0].Index > store.AppliedIndex() {
		cfg.Logger.Warn("state is behind the newest snapshot; restoring it", "snapshot", metas[0].Index, "applied", store.AppliedIndex())
		rc.NoSnapshotRestoreOnStart = false
	}
	hasState, err := raft.HasExistingState(b.logs, b.logs, snaps)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if !hasState && !cfg.NoBootstrap {
		if err := raft.BootstrapCluster(rc, b.logs, b.logs, snaps, b.transport, b.initialConfiguration()); err != nil {
			return nil, fmt.Errorf("broker: bootstrap: %w", err)
		}
	}
	// The newest entries are kept in memory as well (write-through: StoreLogs
	// still writes and fsyncs bbolt before it returns), so replication and
	// the state machine read them back without a bbolt transaction.
	logs, err := raft.NewLogCache(logCacheEntries, b.logs)
	if err != nil {
		return nil, fmt.Errorf("broker: raft log cache: %w", err)
	}
	b.raft, err = raft.NewRaft(rc, signalingFSM{FSM: b.fsm, applied: &b.applied}, logs, b.logs, snaps, b.transport)
	if err != nil {
		return nil, fmt.Errorf("broker: raft: %w", err)
	}
	if err := b.startObserving(); err != nil {
		_ = b.raft.Shutdown().Error() // cleanup on a failed Open: the Register error is the one returned
		return nil, fmt.Errorf("broker: metrics: %w", err)
	}
	b.batcher = newBatcher(b.ctx, cfg.Batch, b.obs.observeDispatch(b.dispatchBatch))
	b.wg.Add(2)
	go b.batcher.run(b.ctx, &b.wg)
	go b.watchLeadership(&b.wg)
	ok = true
	return b, nil
}

// logCacheEntries is how many of the newest Raft entries stay in memory
// (raft.LogCache): enough for MaxAppendEntries batches to several
// followers and for the state machine's batches.
const logCacheEntries = 1024

func (b *Broker) raftConfig() *raft.Config {
	t := b.cfg.Raft
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(b.cfg.NodeID)
	rc.HeartbeatTimeout = t.HeartbeatTimeout
	rc.ElectionTimeout = t.ElectionTimeout
	rc.LeaderLeaseTimeout = t.LeaderLeaseTimeout
	rc.CommitTimeout = t.CommitTimeout
	rc.MaxAppendEntries = t.MaxAppendEntries
	rc.SnapshotThreshold = t.SnapshotThreshold
	rc.SnapshotInterval = t.SnapshotInterval
	rc.TrailingLogs = t.TrailingLogs
	rc.BatchApplyCh = true
	// The FSM is persistent (Pebble, applied index inside): on restart,
	// replay the log after the snapshot instead of reloading the snapshot.
	rc.NoSnapshotRestoreOnStart = true
	rc.Logger = b.hclog("raft")
	return rc
}

func (b *Broker) initialConfiguration() raft.Configuration {
	peers := b.cfg.Peers
	if len(peers) == 0 {
		peers = map[string]string{b.cfg.NodeID: b.cfg.RaftAddr}
	}
	var c raft.Configuration
	for id, addr := range peers {
		c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)})
	}
	return c
}

func (b *Broker) hclog(name string) hclog.Logger {
	return hclogFor(b, name)
}

// watchLeadership runs leader-only duties while this node leads.
func (b *Broker) watchLeadership(wg *sync.WaitGroup) {
	defer wg.Done()
	var stop context.CancelFunc
	var lwg sync.WaitGroup
	leaderCh := b.raft.LeaderCh()
	for {
		select {
		case <-b.ctx.Done():
			if stop != nil {
				stop()
			}
			lwg.Wait()
			return
		case isLeader := <-leaderCh:
			if stop != nil {
				stop()
				lwg.Wait()
				stop = nil
			}
			b.readable.Store(false)
			if isLeader {
				ctx, cancel := context.WithCancel(b.ctx)
				stop = cancel
				lwg.Add(1)
				go func() {
					defer lwg.Done()
					b.lead(ctx)
				}()
			}
		}
	}
}

// lead: barrier (so local reads see every committed write), tell the
// cluster side (which records our addresses), then sweep until leadership
// ends.
func (b *Broker) lead(ctx context.Context) {
	for b.local == nil && ctx.Err() == nil {
		if err := b.raft.Barrier(b.cfg.Raft.ApplyTimeout).Error(); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	b.readable.Store(true)
	b.waiters.notifyAll()
	if c := b.cluster.get(); c != nil {
		c.Elected()
	}
	b.sweep(ctx)
}

// IsLeader reports whether this node is the leader and has caught up.
func (b *Broker) IsLeader() bool {
	return b.selfLeads() && b.readable.Load()
}

// Ready reports whether the node knows a leader and has applied everything
// the leader had committed at the time of asking.
func (b *Broker) Ready() bool {
	return b.syncWithLeader() == nil
}

// Store exposes the node's local state for reads and tests.
func (b *Broker) Store() *storage.Store { return b.store }

// Raft exposes the Raft instance for cluster tooling and tests.
func (b *Broker) Raft() *raft.Raft { return b.raft }

// NodeID is this node's id.
func (b *Broker) NodeID() string { return b.cfg.NodeID }

// Close shuts the node down: leader duties and the batcher stop, Raft
// shuts down, stores close cleanly.
func (b *Broker) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	b.cancel()
	b.wg.Wait()
	var errs []error
	if b.raft != nil {
		errs = append(errs, b.raft.Shutdown().Error())
	}
	errs = append(errs, b.closeStores())
	return errors.Join(errs...)
}

func (b *Broker) closeStores() error {
	var errs []error
	if b.transport != nil {
		errs = append(errs, b.transport.Close())
	}
	if b.logs != nil {
		errs = append(errs, b.logs.Close())
	}
	if b.store != nil {
		errs = append(errs, b.store.Close())
	}
	if b.metrics != nil {
		b.metrics.Unregister(b.fsm.Collector())
	}
	b.stopObserving()
	return errors.Join(errs...)
}
