// Package raftfsm is hookq's Raft state machine: it decodes command
// envelopes, dispatches each operation to storage inside one batch per
// ApplyBatch call, and hands typed results back through the ApplyFuture.
//
// It never reads the clock, draws randomness or touches the network: time
// arrives in the command (leader_time_unix_nano) and storage keeps it
// monotonic. Domain errors are results. Entry content never stops it: an
// entry that does not decode, an op it does not know and an op storage
// refuses as malformed are applied as no-ops with an error result (logged
// and counted), identically on every replica, because a committed entry
// is replayed by every voter on every restart and a panic on its content
// would crash-loop the whole cluster. Only failing to write the local
// store panics: that is this node's disk, not the entry.
package raftfsm

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

// Response is what Apply returns for one command entry: one result per
// op, in order, each a storage.EnqueueResult, storage.LeaseResult,
// storage.SettleResult or storage.Result. Err is set (wrapping
// ErrUndecodable) when the entry was not a command; then nothing was
// applied and Results is empty.
type Response struct {
	Results []any
	Err     error
}

// Options configure an FSM.
type Options struct {
	// Notify, if not nil, is called after each committed batch with the
	// queues that gained available messages.
	Notify func(queues []string)
	// Logger receives one warning per rejected entry or op (default
	// slog.Default()).
	Logger *slog.Logger
}

// Reasons an entry or op is rejected: the values of the reason label of
// hookq_fsm_rejected_ops_total.
const (
	ReasonUndecodable = "undecodable" // the entry is not a Command
	ReasonEmptyOp     = "empty_op"    // an op with no kind
	ReasonUnknownOp   = "unknown_op"  // an op kind this build does not know
	ReasonInvalidOp   = "invalid_op"  // storage refused its content (storage.ErrInvalidOp)
)

// FSM implements raft.FSM and raft.BatchingFSM over a storage.Store.
type FSM struct {
	store    *storage.Store
	notify   func(queues []string)
	log      *slog.Logger
	rejected *prometheus.CounterVec
}

var _ raft.BatchingFSM = (*FSM)(nil)

// New returns an FSM over store. notify, if not nil, is called after each
// committed batch with the queues that gained available messages.
func New(store *storage.Store, notify func(queues []string)) *FSM {
	return NewWithOptions(store, Options{Notify: notify})
}

// NewWithOptions returns an FSM over store.
func NewWithOptions(store *storage.Store, opts Options) *FSM {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	f := &FSM{store: store, notify: opts.Notify, log: opts.Logger,
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookq_fsm_rejected_ops_total",
			Help: "Log entries and operations the state machine applied as no-ops because their content was undecodable, unknown or malformed, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range []string{ReasonUndecodable, ReasonEmptyOp, ReasonUnknownOp, ReasonInvalidOp} {
		f.rejected.WithLabelValues(r)
	}
	return f
}

// Collector is the FSM's metrics (hookq_fsm_rejected_ops_total{reason}),
// for the node to register.
func (f *FSM) Collector() prometheus.Collector { return f.rejected }

// Store is the store the FSM applies to.
func (f *FSM) Store() *storage.Store { return f.store }

// Apply applies one log entry.
func (f *FSM) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch applies entries in one storage batch. Entries at or below the
// stored applied index (replayed after a restart) are skipped.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	applied := f.store.AppliedIndex()
	txn := f.store.Begin()
	out, touched := f.applyEntries(txn, logs, applied)
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

// applyEntries applies the entries above applied to txn and reports
// whether there were any.
func (f *FSM) applyEntries(txn *storage.Txn, logs []*raft.Log, applied uint64) (out []any, touched bool) {
	out = make([]any, len(logs))
	for i, l := range logs {
		if l.Index <= applied {
			continue
		}
		touched = true
		if l.Type != raft.LogCommand {
			txn.SetEntry(l.Index, 0)
			continue
		}
		out[i] = f.applyCommand(txn, l)
	}
	return out, touched
}

// applyCommand applies one command entry. An undecodable one only
// advances the applied index (SetEntry), like a non-command entry.
func (f *FSM) applyCommand(txn *storage.Txn, l *raft.Log) *Response {
	cmd := &pb.Command{}
	if err := proto.Unmarshal(l.Data, cmd); err != nil {
		txn.SetEntry(l.Index, 0)
		f.reject(l.Index, -1, ReasonUndecodable, err)
		return &Response{Err: fmt.Errorf("%w at index %d", ErrUndecodable, l.Index)}
	}
	txn.SetEntry(l.Index, cmd.LeaderTimeUnixNano)
	res := &Response{Results: make([]any, len(cmd.Ops))}
	for j, op := range cmd.Ops {
		res.Results[j] = apply(txn, op)
		if reason, err := rejection(op, res.Results[j]); reason != "" {
			f.reject(l.Index, j, reason, err)
		}
	}
	return res
}

// reject logs and counts one rejected entry (op < 0) or op. The error
// names what was wrong, never a body, header or secret.
func (f *FSM) reject(index uint64, op int, reason string, err error) {
	f.rejected.WithLabelValues(reason).Inc()
	if op < 0 {
		f.log.Warn("raftfsm: entry applied as a no-op", "index", index, "reason", reason, "err", err)
		return
	}
	f.log.Warn("raftfsm: op applied as a no-op", "index", index, "op", op, "reason", reason, "err", err)
}

// apply dispatches op. Storage checks each op's content (nil parts,
// ranges) and answers storage.ErrInvalidOp; the result type always
// matches the op kind, so callers may assert it.
func apply(txn *storage.Txn, op *pb.Op) any {
	switch k := op.GetKind().(type) {
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
	case nil:
		return storage.Result{Err: fmt.Errorf("%w: no kind", ErrUnknownOp)}
	default:
		return storage.Result{Err: fmt.Errorf("%w: %T", ErrUnknownOp, k)}
	}
}

// rejection names why op's result is a rejection ("" when it is not).
func rejection(op *pb.Op, res any) (reason string, err error) {
	switch r := res.(type) {
	case storage.EnqueueResult:
		err = r.Err
	case storage.LeaseResult:
		err = r.Err
	case storage.SettleResult:
		err = r.Err
		for i := 0; err == nil && i < len(r.Items); i++ {
			if errors.Is(r.Items[i].Err, storage.ErrInvalidOp) {
				err = r.Items[i].Err
			}
		}
	case storage.Result:
		err = r.Err
	}
	switch {
	case errors.Is(err, ErrUnknownOp) && len(op.ProtoReflect().GetUnknown()) == 0:
		return ReasonEmptyOp, err
	case errors.Is(err, ErrUnknownOp):
		return ReasonUnknownOp, err
	case errors.Is(err, storage.ErrInvalidOp):
		return ReasonInvalidOp, err
	}
	return "", nil
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
		sink.Cancel() // #nosec G104 -- the write error is the one reported; Cancel only discards the partial snapshot
		return fmt.Errorf("raftfsm: persist: %w", err)
	}
	return sink.Close()
}

func (s *snapshot) Release() { s.snap.Release() }
