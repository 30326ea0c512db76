package raftfsm_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
	"google.golang.org/protobuf/proto"
)

// mustFSM returns an FSM over a fresh store closed at the end of the test.
// It logs nothing (tests that check logging pass their own logger).
func mustFSM(tb testing.TB) *raftfsm.FSM {
	tb.Helper()
	return raftfsm.NewWithOptions(st.MustOpen(tb), raftfsm.Options{Logger: slog.New(slog.DiscardHandler)})
}

// replica is an FSM whose ApplyBatch panics fail the test at once instead
// of hanging it: a panicking batch keeps its store's lock, so that store is
// left open rather than closed at cleanup.
type replica struct {
	*raftfsm.FSM
	tb       testing.TB
	panicked bool
}

// newReplica opens a store under dir (a fresh one when dir is "") for an
// FSM logging to log (nowhere when nil).
func newReplica(tb testing.TB, dir string, log *slog.Logger) *replica {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := storage.Open(dir)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	r := &replica{FSM: raftfsm.NewWithOptions(s, raftfsm.Options{Logger: log}), tb: tb}
	tb.Cleanup(func() {
		if !r.panicked {
			s.Close()
		}
	})
	return r
}

// apply is ApplyBatch(logs), failing the test on a panic.
func (r *replica) apply(logs ...*raft.Log) []any {
	r.tb.Helper()
	defer func() {
		if p := recover(); p != nil {
			r.panicked = true
			r.tb.Fatalf("ApplyBatch panicked: %v", p)
		}
	}()
	return r.ApplyBatch(logs)
}

// cmdLog encodes ops as the command of Raft entry index at leader time now.
func cmdLog(tb testing.TB, index uint64, now int64, ops ...*pb.Op) *raft.Log {
	tb.Helper()
	data, err := proto.Marshal(&pb.Command{LeaderTimeUnixNano: now, Ops: ops})
	if err != nil {
		tb.Fatalf("marshal command: %v", err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

func putQueueOp(name string, cfg *pb.QueueConfig) *pb.Op {
	return &pb.Op{Kind: &pb.Op_PutQueue{PutQueue: &pb.PutQueue{Name: name, Config: cfg}}}
}

func enqueueOp(body string, queues ...string) *pb.Op {
	return &pb.Op{Kind: &pb.Op_Enqueue{Enqueue: &pb.Enqueue{Source: "s", Queues: queues, Body: []byte(body), ContentType: []byte("text/plain")}}}
}

func leaseOp(q string, rands [][]byte, vis int64, autoAck bool) *pb.Op {
	return &pb.Op{Kind: &pb.Op_Lease{Lease: &pb.Lease{Queue: q, DeliveryRands: rands, VisibilityNanos: vis, AutoAck: autoAck}}}
}

func settleOp(q string, items ...*pb.SettleItem) *pb.Op {
	return &pb.Op{Kind: &pb.Op_Settle{Settle: &pb.Settle{Queue: q, Items: items}}}
}

func sweepOp() *pb.Op { return &pb.Op{Kind: &pb.Op_Sweep{Sweep: &pb.Sweep{}}} }

// fataler is what testing.TB and *rapid.T have in common that helpers need.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// results returns the per-op results of entry i of an ApplyBatch answer.
func results(tb fataler, out []any, i int) []any {
	tb.Helper()
	r, ok := out[i].(*raftfsm.Response)
	if !ok {
		tb.Fatalf("entry %d: response %T (%v), want *raftfsm.Response", i, out[i], out[i])
	}
	return r.Results
}

func digest(tb testing.TB, s *storage.Store) string {
	tb.Helper()
	d, err := s.Digest()
	if err != nil {
		tb.Fatalf("digest: %v", err)
	}
	return d
}

// bufferSink is a raft.SnapshotSink that keeps the stream in memory.
type bufferSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *bufferSink) ID() string    { return "test" }
func (s *bufferSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufferSink) Close() error  { s.closed = true; return nil }

var _ raft.SnapshotSink = (*bufferSink)(nil)
