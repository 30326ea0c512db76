package broker

import (
	"context"
	"io"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/hookq/hookq/raftfsm"
)

// appliedSignal lets goroutines wait for the local state machine to reach
// a Raft index: it is broadcast after every applied batch.
type appliedSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (a *appliedSignal) wait() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ch == nil {
		a.ch = make(chan struct{})
	}
	return a.ch
}

func (a *appliedSignal) broadcast() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ch != nil {
		close(a.ch)
		a.ch = nil
	}
}

// signalingFSM is the raftfsm state machine plus a broadcast after each
// batch, so forwarded writes can wait to be visible locally.
type signalingFSM struct {
	*raftfsm.FSM
	applied *appliedSignal
}

func (s signalingFSM) Apply(l *raft.Log) any { return s.ApplyBatch([]*raft.Log{l})[0] }

func (s signalingFSM) ApplyBatch(logs []*raft.Log) []any {
	out := s.FSM.ApplyBatch(logs)
	s.applied.broadcast()
	return out
}

func (s signalingFSM) Restore(rc io.ReadCloser) error {
	err := s.FSM.Restore(rc)
	s.applied.broadcast()
	return err
}

// waitApplied blocks until this node's state includes Raft index idx, or
// ctx ends: a node answering a forwarded write then reads its own write.
func (b *Broker) waitApplied(ctx context.Context, idx uint64) {
	for {
		ch := b.applied.wait()
		if b.store.AppliedIndex() >= idx {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-b.ctx.Done():
			return
		}
	}
}
