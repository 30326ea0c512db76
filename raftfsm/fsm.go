// Package raftfsm is hookq's Raft state machine: it decodes command
// envelopes, dispatches each operation to storage inside one batch per
// ApplyBatch call, and hands typed results back through the ApplyFuture.
//
// It never reads the clock, draws randomness or touches the network: time
// arrives in the command (leader_time_unix_nano) and storage keeps it
// monotonic. Domain errors are results; an unknown command is a panic.
package raftfsm

import (
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	"google.golang.org/protobuf/proto"
)

// Response is what Apply returns for one command entry: one result per
// op, in order, each a storage.EnqueueResult, storage.LeaseResult,
// storage.SettleResult or storage.Result.
type Response struct {
	Results []any
}

// FSM implements raft.FSM and raft.BatchingFSM over a storage.Store.
type FSM struct {
	store  *storage.Store
	notify func(queues []string)
}

var _ raft.BatchingFSM = (*FSM)(nil)

// New returns an FSM over store. notify, if not nil, is called after each
// committed batch with the queues that gained available messages.
func New(store *storage.Store, notify func(queues []string)) *FSM {
	return &FSM{store: store, notify: notify}
}

// Store is the store the FSM applies to.
func (f *FSM) Store() *storage.Store { return f.store }

// Apply applies one log entry.
func (f *FSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies entries in one storage batch. Entries at or below the
// stored applied index (replayed after a restart) are skipped.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	applied := f.store.AppliedIndex()
	txn := f.store.Begin()
	touched := false
	for i, l := range logs {
		if l.Index <= applied {
			continue
		}
		touched = true
		if l.Type != raft.LogCommand {
			txn.SetEntry(l.Index, 0)
			continue
		}
		cmd := &pb.Command{}
		if err := proto.Unmarshal(l.Data, cmd); err != nil {
			panic(fmt.Sprintf("raftfsm: undecodable command at index %d: %v", l.Index, err))
		}
		txn.SetEntry(l.Index, cmd.LeaderTimeUnixNano)
		res := &Response{Results: make([]any, len(cmd.Ops))}
		for j, op := range cmd.Ops {
			res.Results[j] = apply(txn, op)
		}
		out[i] = res
	}
	if !touched {
		txn.Discard()
		return out
	}
	woken := txn.Woken()
	if err := txn.Commit(); err != nil {
		// The batch is in memory and the log is durable: failing to write
		// it locally leaves this node unable to make progress safely.
		panic(fmt.Sprintf("raftfsm: %v", err))
	}
	if f.notify != nil && len(woken) > 0 {
		f.notify(woken)
	}
	return out
}

func apply(txn *storage.Txn, op *pb.Op) any {
	switch k := op.Kind.(type) {
	case *pb.Op_Enqueue:
		return txn.Enqueue(k.Enqueue)
	case *pb.Op_Lease:
		return txn.Lease(k.Lease)
	case *pb.Op_Settle:
		return txn.Settle(k.Settle)
	case *pb.Op_PutQueue:
		return txn.PutQueue(k.PutQueue)
	case *pb.Op_DeleteQueue:
		return txn.DeleteQueue(k.DeleteQueue)
	case *pb.Op_PutSource:
		return txn.PutSource(k.PutSource)
	case *pb.Op_DeleteSource:
		return txn.DeleteSource(k.DeleteSource)
	case *pb.Op_PutToken:
		return txn.PutToken(k.PutToken)
	case *pb.Op_DeleteToken:
		return txn.DeleteToken(k.DeleteToken)
	case *pb.Op_Sweep:
		return txn.Sweep(k.Sweep)
	case *pb.Op_Redrive:
		return txn.Redrive(k.Redrive)
	case *pb.Op_Replay:
		return txn.Replay(k.Replay)
	case *pb.Op_Purge:
		return txn.Purge(k.Purge)
	case *pb.Op_PutNode:
		return txn.PutNode(k.PutNode)
	case *pb.Op_DeleteNode:
		return txn.DeleteNode(k.DeleteNode)
	default:
		panic(fmt.Sprintf("raftfsm: unknown op type %T", op.Kind))
	}
}

// Snapshot makes every applied write durable (so Raft may truncate its
// log) and takes a Pebble snapshot; the stream is written by Persist.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.store.Sync(); err != nil {
		return nil, fmt.Errorf("raftfsm: snapshot: %w", err)
	}
	return &snapshot{snap: f.store.Snapshot()}, nil
}

// Restore replaces the state with a snapshot stream.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.store.Restore(rc); err != nil {
		return fmt.Errorf("raftfsm: restore: %w", err)
	}
	return nil
}

type snapshot struct{ snap *storage.Snapshot }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.snap.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("raftfsm: persist: %w", err)
	}
	return sink.Close()
}

func (s *snapshot) Release() { s.snap.Release() }
