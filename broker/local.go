package broker

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
)

// OpenLocal starts a node without Raft, for tests (brokertest.NewFake): a
// lone voter that always leads, whose every batch is applied to the state
// machine at once, in the proposing goroutine, as the entry of a log that
// exists only in memory, on an in-memory store (storage.OpenMem). Above
// the log everything is the broker's own: the batcher with the leader's
// clock, operations, views, long-poll wake-ups and the sweeper. It has no
// cluster side (Cluster, Join… answer ErrNotLeader), no Raft() and no
// durability: its state is gone when it closes. cfg.NodeID defaults to
// "n1"; DataDir and RaftAddr are not used.
func OpenLocal(cfg Config) (*Broker, error) {
	if cfg.NodeID == "" {
		cfg.NodeID = "n1"
	}
	cfg.DataDir, cfg.RaftAddr = "(memory)", "(none)"
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	store, err := storage.OpenMem()
	if err != nil {
		return nil, err
	}
	b := &Broker{cfg: cfg, waiters: newWaiters(), store: store}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.fsm = raftfsm.NewWithOptions(store, raftfsm.Options{Notify: b.waiters.notify, Logger: cfg.Logger})
	if err := b.registerMetrics(cfg.Registry); err != nil {
		store.Close() // #nosec G104 -- cleanup on a failed OpenLocal: the Register error is the one returned
		return nil, err
	}
	b.local = &localLog{fsm: signalingFSM{FSM: b.fsm, applied: &b.applied}, index: store.AppliedIndex()}
	// It leads from the start and has applied every entry there is.
	b.readable.Store(true)
	b.batcher = newBatcher(b.ctx, cfg.Batch, b.dispatchBatch)
	b.wg.Add(2)
	go b.batcher.run(b.ctx, &b.wg)
	go func() {
		defer b.wg.Done()
		b.lead(b.ctx)
	}()
	return b, nil
}

// localLog is the log of a node opened with OpenLocal: an entry is
// committed and applied as it is appended.
type localLog struct {
	mu    sync.Mutex
	fsm   raft.FSM
	index uint64
}

func (l *localLog) apply(data []byte) raft.ApplyFuture {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.index++
	resp := l.fsm.Apply(&raft.Log{Index: l.index, Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: time.Now()})
	return appliedFuture{index: l.index, resp: resp}
}

// appliedFuture is the raft.ApplyFuture of an entry already applied.
type appliedFuture struct {
	index uint64
	resp  any
}

func (f appliedFuture) Error() error  { return nil }
func (f appliedFuture) Index() uint64 { return f.index }
func (f appliedFuture) Response() any { return f.resp }
