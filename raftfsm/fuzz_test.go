package raftfsm

import (
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fuzzBaseIndex is the last entry of fuzzBase.
const fuzzBaseIndex = 6

// fuzzBase gives f queues with ready, in-flight, acked and dead-lettered
// messages, a source, a token and a node, and returns the deliveryIds of
// the leases still live.
func fuzzBase(tb testing.TB, f *FSM) []string {
	tb.Helper()
	a := st.Config("a", true)
	a.MaxAttempts = 2
	op := func(o any) *pb.Op {
		switch o := o.(type) {
		case *pb.PutQueue:
			return &pb.Op{Kind: &pb.Op_PutQueue{PutQueue: o}}
		case *pb.Enqueue:
			return &pb.Op{Kind: &pb.Op_Enqueue{Enqueue: o}}
		case *pb.Lease:
			return &pb.Op{Kind: &pb.Op_Lease{Lease: o}}
		case *pb.Settle:
			return &pb.Op{Kind: &pb.Op_Settle{Settle: o}}
		case *pb.PutSource:
			return &pb.Op{Kind: &pb.Op_PutSource{PutSource: o}}
		case *pb.PutToken:
			return &pb.Op{Kind: &pb.Op_PutToken{PutToken: o}}
		case *pb.PutNode:
			return &pb.Op{Kind: &pb.Op_PutNode{PutNode: o}}
		}
		tb.Fatalf("fuzzBase: op %T", o)
		return nil
	}
	enq := func(body string, queues ...string) *pb.Op {
		return op(&pb.Enqueue{Source: "gh", Queues: queues, Body: []byte(body), DedupKey: body, DedupWindowNanos: int64(time.Hour)})
	}
	entry := func(i uint64, ops ...*pb.Op) *raft.Log {
		data, err := proto.Marshal(&pb.Command{LeaderTimeUnixNano: st.T0 + int64(i)*int64(time.Second), Ops: ops})
		if err != nil {
			tb.Fatal(err)
		}
		return &raft.Log{Index: i, Type: raft.LogCommand, Data: data}
	}
	out := f.ApplyBatch([]*raft.Log{
		entry(1, op(&pb.PutQueue{Name: "a", Config: a}), op(&pb.PutQueue{Name: "b", Config: st.Config("b", false)}),
			op(&pb.PutSource{Name: "gh", Config: &pb.SourceConfig{Queues: []string{"a", "b"}, VerifyType: "github"}}),
			op(&pb.PutToken{Token: &pb.TokenRecord{Name: "t", Sha256: make([]byte, 32), Scopes: []string{"admin"}}}),
			op(&pb.PutNode{Node: &pb.NodeRecord{Id: "n1", RaftAddr: "127.0.0.1:7000"}})),
		entry(2, enq("m1", "a", "b"), enq("m2", "a"), enq("m3", "a"), enq("m4", "b"), enq("m5", "a")),
		entry(3, op(&pb.Lease{Queue: "a", DeliveryRands: [][]byte{st.Rand(1), st.Rand(2), st.Rand(3), st.Rand(4)}, VisibilityNanos: int64(time.Minute)})),
		{Index: 4, Type: raft.LogNoop},
	})
	ds := out[2].(*Response).Results[0].(storage.LeaseResult).Deliveries
	if len(ds) != 4 {
		tb.Fatalf("fuzzBase: leased %d, want 4", len(ds))
	}
	f.ApplyBatch([]*raft.Log{
		entry(5, op(&pb.Settle{Queue: "a", Items: []*pb.SettleItem{
			{DeliveryId: ds[0].DeliveryID, Action: pb.SettleAction_ACK},
			{DeliveryId: ds[1].DeliveryID, Action: pb.SettleAction_REJECT, Reason: "bad"},
		}})),
		entry(fuzzBaseIndex, op(&pb.Lease{Queue: "b", DeliveryRands: [][]byte{st.Rand(5)}, VisibilityNanos: int64(time.Hour)})),
	})
	if f.store.AppliedIndex() != fuzzBaseIndex {
		tb.Fatalf("fuzzBase: applied %d", f.store.AppliedIndex())
	}
	return []string{ds[2].DeliveryID, ds[3].DeliveryID}
}

// tryApply applies logs to f inside a transaction it then discards, so
// every input starts from the same base, and returns the digest the store
// would have had.
func tryApply(t *testing.T, f *FSM, logs []*raft.Log) string {
	txn := f.store.Begin()
	defer txn.Discard()
	f.applyEntries(txn, logs, f.store.AppliedIndex())
	d, err := txn.Digest()
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	return d
}

// setNumbers sets every populated integer and enum field of m, nested
// messages included, to n: overflow and sign bugs in one step.
func setNumbers(m protoreflect.Message, n int64) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			for i, l := 0, v.List(); i < l.Len(); i++ {
				if fd.Message() != nil {
					setNumbers(l.Get(i).Message(), n)
				} else if x, ok := number(fd.Kind(), n); ok {
					l.Set(i, x)
				}
			}
		case fd.Message() != nil:
			setNumbers(v.Message(), n)
		default:
			if x, ok := number(fd.Kind(), n); ok {
				m.Set(fd, x)
			}
		}
		return true
	})
}

func number(k protoreflect.Kind, n int64) (protoreflect.Value, bool) {
	switch k {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(n), true
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n)), true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n)), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n)), true
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(n))), true
	}
	return protoreflect.Value{}, false
}

// FuzzApplyCommand feeds two replicas holding the same state the same two
// entries: arbitrary bytes, or (from the seeds) encoded commands the
// mutator changes; when n is not zero every number in the first command is
// set to n. Applying never panics and both replicas end identical.
func FuzzApplyCommand(f *testing.F) {
	quiet := Options{Logger: slog.New(slog.DiscardHandler)}
	a, b := NewWithOptions(st.MustOpen(f), quiet), NewWithOptions(st.MustOpen(f), quiet)
	live := fuzzBase(f, a)
	fuzzBase(f, b)

	now := st.T0 + int64(time.Minute)
	cmd := func(ops ...*pb.Op) []byte {
		data, err := proto.Marshal(&pb.Command{LeaderTimeUnixNano: now, Ops: ops})
		if err != nil {
			f.Fatal(err)
		}
		return data
	}
	settle := func(action pb.SettleAction, id string) *pb.Op {
		return &pb.Op{Kind: &pb.Op_Settle{Settle: &pb.Settle{Queue: "a", Items: []*pb.SettleItem{
			{DeliveryId: id, Action: action, HasDelay: true, DelayNanos: int64(time.Second), VisibilityNanos: int64(time.Minute), Reason: "r"}}}}}
	}
	enqueue := &pb.Op{Kind: &pb.Op_Enqueue{Enqueue: &pb.Enqueue{Source: "gh", Queues: []string{"a", "b"}, Body: []byte("{}"),
		ContentType: []byte("application/json"), Headers: []*pb.Header{{Name: "X-A", Value: []byte("1")}}, DedupKey: "m1", DedupWindowNanos: int64(time.Hour)}}}
	lease := &pb.Op{Kind: &pb.Op_Lease{Lease: &pb.Lease{Queue: "a", DeliveryRands: [][]byte{st.Rand(10), st.Rand(11)}, VisibilityNanos: int64(time.Second)}}}
	unknown := protowire.AppendBytes(protowire.AppendTag(nil, 99, protowire.BytesType), []byte("future"))
	good := [][]byte{
		cmd(enqueue, lease),
		cmd(settle(pb.SettleAction_ACK, live[0]), settle(pb.SettleAction_NACK, live[1])),
		cmd(settle(pb.SettleAction_EXTEND, live[0]), settle(pb.SettleAction_REJECT, live[1])),
		cmd(&pb.Op{Kind: &pb.Op_PutQueue{PutQueue: &pb.PutQueue{Name: "c", Config: st.Config("c", true)}}},
			&pb.Op{Kind: &pb.Op_DeleteQueue{DeleteQueue: &pb.DeleteQueue{Name: "b"}}}),
		cmd(&pb.Op{Kind: &pb.Op_Sweep{Sweep: &pb.Sweep{Limit: 10}}},
			&pb.Op{Kind: &pb.Op_Redrive{Redrive: &pb.Redrive{Queue: "a.dlq"}}}),
		cmd(&pb.Op{Kind: &pb.Op_Replay{Replay: &pb.Replay{Queue: "a", SinceUnixNano: st.T0}}},
			&pb.Op{Kind: &pb.Op_Purge{Purge: &pb.Purge{Queue: "a"}}}),
		cmd(&pb.Op{Kind: &pb.Op_DeleteSource{DeleteSource: &pb.DeleteSource{Name: "gh"}}},
			&pb.Op{Kind: &pb.Op_DeleteToken{DeleteToken: &pb.DeleteToken{Name: "t"}}},
			&pb.Op{Kind: &pb.Op_DeleteNode{DeleteNode: &pb.DeleteNode{Id: "n1"}}}),
		cmd(&pb.Op{}, &pb.Op{Kind: &pb.Op_PutQueue{}}, enqueue),
	}
	for i, g := range good {
		f.Add(g, good[(i+1)%len(good)], int64(0))
	}
	for _, n := range []int64{math.MaxInt64, math.MinInt64, -1, 1 << 40} {
		f.Add(good[0], good[1], n)
		f.Add(good[2], good[3], n)
	}
	withUnknown := append(append([]byte(nil), good[0]...), protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), unknown)...)
	f.Add(withUnknown, good[1], int64(0))
	f.Add([]byte("\xff\xff\xffgarbage"), good[0], int64(0))
	f.Add(good[0][:len(good[0])/2], good[1], int64(0))
	f.Add([]byte{}, []byte{0x12, 0x00}, int64(0))

	f.Fuzz(func(t *testing.T, first, second []byte, n int64) {
		if c := (&pb.Command{}); n != 0 && proto.Unmarshal(first, c) == nil {
			setNumbers(c.ProtoReflect(), n)
			if data, err := (proto.MarshalOptions{Deterministic: true}).Marshal(c); err == nil {
				first = data
			}
		}
		logs := []*raft.Log{
			{Index: fuzzBaseIndex + 1, Term: 1, Type: raft.LogCommand, Data: first},
			{Index: fuzzBaseIndex + 2, Term: 1, Type: raft.LogCommand, Data: second},
		}
		if da, db := tryApply(t, a, logs), tryApply(t, b, logs); da != db {
			t.Fatalf("replicas diverged: %s vs %s", da[:12], db[:12])
		}
	})
}
