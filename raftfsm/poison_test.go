package raftfsm_test

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// poisonBase applies entries 1..3 (two queues, three messages, one
// lease) and returns the live deliveryId.
func poisonBase(tb testing.TB, f *replica) string {
	tb.Helper()
	out := f.apply(
		cmdLog(tb, 1, st.T0, putQueueOp("a", st.Config("a", true)), putQueueOp("b", st.Config("b", false))),
		cmdLog(tb, 2, st.T0+1, enqueueOp("m1", "a"), enqueueOp("m2", "a", "b"), enqueueOp("m3", "b")),
		cmdLog(tb, 3, st.T0+2, leaseOp("a", [][]byte{st.Rand(1)}, int64(time.Minute), false)),
	)
	ds := results(tb, out, 2)[0].(storage.LeaseResult).Deliveries
	if len(ds) != 1 {
		tb.Fatalf("base lease: %d deliveries", len(ds))
	}
	return ds[0].DeliveryID
}

const poisonIndex = 4

var poisonTime = st.T0 + int64(time.Second)

// rawCommand encodes a command whose ops are given as encoded Op bytes.
func rawCommand(now int64, ops ...[]byte) []byte {
	b := protowire.AppendTag(nil, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(now))
	for _, op := range ops {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, op)
	}
	return b
}

func encodeOp(tb testing.TB, op *pb.Op) []byte {
	tb.Helper()
	b, err := proto.Marshal(op)
	if err != nil {
		tb.Fatalf("marshal op: %v", err)
	}
	return b
}

// resultErr is the error of an op's result: the op's own, else its first
// failing settle item's.
func resultErr(res any) error {
	switch r := res.(type) {
	case storage.EnqueueResult:
		return r.Err
	case storage.LeaseResult:
		return r.Err
	case storage.SettleResult:
		if r.Err != nil {
			return r.Err
		}
		for _, it := range r.Items {
			if it.Err != nil {
				return it.Err
			}
		}
	case storage.Result:
		return r.Err
	}
	return nil
}

// sameKind reports whether res is the result type op's kind produces
// (callers assert it).
func sameKind(op *pb.Op, res any) bool {
	switch op.GetKind().(type) {
	case *pb.Op_Enqueue:
		_, ok := res.(storage.EnqueueResult)
		return ok
	case *pb.Op_Lease:
		_, ok := res.(storage.LeaseResult)
		return ok
	case *pb.Op_Settle:
		_, ok := res.(storage.SettleResult)
		return ok
	}
	_, ok := res.(storage.Result)
	return ok
}

func TestPoisonEntriesApplyAsNoOpsWithErrorResults(t *testing.T) {
	emptyOp := &pb.Op{}
	unknownOp := protowire.AppendBytes(protowire.AppendTag(nil, 99, protowire.BytesType), []byte("future op"))
	badUTF8 := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), // Enqueue
		protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "\xff\xfe")) // source
	valid := rawCommand(poisonTime, encodeOp(t, enqueueOp(strings.Repeat("body", 64), "a")))
	huge := make([][]byte, storage.MaxLeaseRands+1)
	for i := range huge {
		huge[i] = st.Rand(uint64(100 + i))
	}
	put := func(name string, mut func(*pb.QueueConfig)) *pb.Op {
		c := st.Config(name, false)
		mut(c)
		return putQueueOp(name, c)
	}
	settle := func(it *pb.SettleItem) *pb.Op { return settleOp("a", it) }

	type op struct {
		op      *pb.Op
		raw     []byte // encoded op, when op cannot express it
		want    error  // nil: a good op, applied
		keepDel bool   // a settle item with the live deliveryId
	}
	for _, tc := range []struct {
		name string
		data []byte // the entry, when not built from ops
		ops  []op
	}{
		{name: "garbage", data: []byte("\xff\xff\xff\xffgarbage")},
		{name: "length past the end", data: []byte{0x12, 0xff, 0xff, 0xff}},
		{name: "truncated command", data: valid[:len(valid)-40]},
		{name: "string that is not UTF-8", data: rawCommand(poisonTime, badUTF8)},
		{name: "empty op", ops: []op{{op: emptyOp, want: raftfsm.ErrUnknownOp}}},
		{name: "unknown op kind", ops: []op{{raw: unknownOp, want: raftfsm.ErrUnknownOp}}},
		{name: "put queue without message", ops: []op{{op: &pb.Op{Kind: &pb.Op_PutQueue{}}, want: storage.ErrInvalidOp}}},
		{name: "put queue without config", ops: []op{{op: putQueueOp("c", nil), want: storage.ErrInvalidOp}}},
		{name: "put source without config", ops: []op{{op: &pb.Op{Kind: &pb.Op_PutSource{PutSource: &pb.PutSource{Name: "s"}}}, want: storage.ErrInvalidOp}}},
		{name: "put token without token", ops: []op{{op: &pb.Op{Kind: &pb.Op_PutToken{PutToken: &pb.PutToken{}}}, want: storage.ErrInvalidOp}}},
		{name: "put node without node", ops: []op{{op: &pb.Op{Kind: &pb.Op_PutNode{}}, want: storage.ErrInvalidOp}}},
		{name: "empty enqueue", ops: []op{{op: &pb.Op{Kind: &pb.Op_Enqueue{}}, want: storage.ErrInvalidOp}}},
		{name: "empty lease", ops: []op{{op: &pb.Op{Kind: &pb.Op_Lease{}}, want: storage.ErrQueueNotFound}}},
		{name: "empty settle item", ops: []op{{op: &pb.Op{Kind: &pb.Op_Settle{Settle: &pb.Settle{Queue: "a", Items: []*pb.SettleItem{{}}}}}, want: storage.ErrInvalidOp}}},
		{name: "empty sweep", ops: []op{{op: &pb.Op{Kind: &pb.Op_Sweep{}}, want: nil}}},
		{name: "lease rand of 17 bytes", ops: []op{{op: leaseOp("a", [][]byte{append(st.Rand(9), 0)}, 0, false), want: storage.ErrInvalidOp}}},
		{name: "lease of a million", ops: []op{{op: leaseOp("a", huge, 0, false), want: storage.ErrInvalidOp}}},
		{name: "settle action unknown", ops: []op{{op: settle(&pb.SettleItem{Action: 99}), want: storage.ErrInvalidOp, keepDel: true}}},
		{name: "queue name holding NUL", ops: []op{{op: put("a\x00\x00\x00\x00\x00\x00\x00\x00", func(*pb.QueueConfig) {}), want: storage.ErrInvalidOp}}},
		{name: "queue name empty", ops: []op{{op: put("", func(*pb.QueueConfig) {}), want: storage.ErrInvalidOp}}},
		{name: "dead-letter name holding NUL", ops: []op{{op: put("c", func(c *pb.QueueConfig) { c.DeadLetterQueue = "a\x00" }), want: storage.ErrInvalidOp}}},
		{name: "negative retention", ops: []op{{op: put("c", func(c *pb.QueueConfig) { c.RetentionNanos = math.MinInt64 }), want: storage.ErrInvalidOp}}},
		{name: "negative backoff", ops: []op{{op: put("c", func(c *pb.QueueConfig) { c.BackoffNanos = []int64{-1} }), want: storage.ErrInvalidOp}}},
		{name: "negative sweep limit", ops: []op{{op: &pb.Op{Kind: &pb.Op_Sweep{Sweep: &pb.Sweep{Limit: -1}}}, want: storage.ErrInvalidOp}}},
		{name: "sweep limit past the bound", ops: []op{{op: &pb.Op{Kind: &pb.Op_Sweep{Sweep: &pb.Sweep{Limit: math.MaxInt32}}}, want: storage.ErrInvalidOp}}},
		{name: "negative replay bound", ops: []op{{op: &pb.Op{Kind: &pb.Op_Replay{Replay: &pb.Replay{Queue: "a", SinceUnixNano: -1}}}, want: storage.ErrInvalidOp}}},
		{name: "negative dedup window", ops: []op{{op: &pb.Op{Kind: &pb.Op_Enqueue{Enqueue: &pb.Enqueue{Queues: []string{"a"}, DedupKey: "k", DedupWindowNanos: -1}}}, want: storage.ErrInvalidOp}}},
		{name: "poison ops between good ones", ops: []op{
			{op: enqueueOp("good 1", "a", "b")},
			{op: emptyOp, want: raftfsm.ErrUnknownOp},
			{op: putQueueOp("c", nil), want: storage.ErrInvalidOp},
			{op: leaseOp("a", [][]byte{st.Rand(2), st.Rand(3)}, 0, false)},
			{raw: unknownOp, want: raftfsm.ErrUnknownOp},
			{op: settle(st.Ack("")), keepDel: true},
			{op: enqueueOp("good 2", "b")},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, ref := newReplica(t, "", nil), newReplica(t, "", nil), newReplica(t, "", nil)
			del := poisonBase(t, a)
			poisonBase(t, b)
			poisonBase(t, ref)

			// The reference entry holds only the good ops; an entry that
			// does not decode is referenced by a no-op entry.
			data, refLog := tc.data, &raft.Log{Index: poisonIndex, Type: raft.LogNoop}
			if tc.ops != nil {
				var raws [][]byte
				var good []*pb.Op
				for _, o := range tc.ops {
					if o.keepDel {
						o.op = settleOp("a", proto.Clone(o.op.GetSettle().Items[0]).(*pb.SettleItem))
						o.op.GetSettle().Items[0].DeliveryId = del
					}
					raw := o.raw
					if raw == nil {
						raw = encodeOp(t, o.op)
					}
					raws = append(raws, raw)
					if o.want == nil {
						good = append(good, o.op)
					}
				}
				data = rawCommand(poisonTime, raws...)
				refLog = cmdLog(t, poisonIndex, poisonTime, good...)
			}
			l := &raft.Log{Index: poisonIndex, Term: 1, Type: raft.LogCommand, Data: data}

			got := a.apply(l)[0].(*raftfsm.Response)
			b.apply(l)
			want, _ := ref.apply(refLog)[0].(*raftfsm.Response)

			if tc.ops == nil {
				if !errors.Is(got.Err, raftfsm.ErrUndecodable) || len(got.Results) != 0 {
					t.Fatalf("response %+v, want ErrUndecodable and no results", got)
				}
			} else {
				if got.Err != nil || len(got.Results) != len(tc.ops) {
					t.Fatalf("response err %v with %d results, want %d results", got.Err, len(got.Results), len(tc.ops))
				}
				g := 0
				for i, o := range tc.ops {
					res := got.Results[i]
					if o.op != nil && !sameKind(o.op, res) {
						t.Errorf("op %d: result %T does not match the op kind", i, res)
					}
					if o.want != nil {
						if err := resultErr(res); !errors.Is(err, o.want) {
							t.Errorf("op %d: err %v, want %v", i, err, o.want)
						}
						continue
					}
					if err := resultErr(res); err != nil {
						t.Errorf("good op %d failed: %v", i, err)
					}
					if !equalResults(res, want.Results[g]) {
						t.Errorf("good op %d: result %+v, without the poison %+v", i, res, want.Results[g])
					}
					g++
				}
			}
			for name, f := range map[string]*replica{"a": a, "b": b} {
				if f.Store().AppliedIndex() != poisonIndex {
					t.Errorf("replica %s: applied index %d, want %d", name, f.Store().AppliedIndex(), poisonIndex)
				}
			}
			if da, db, dr := digest(t, a.Store()), digest(t, b.Store()), digest(t, ref.Store()); da != db || da != dr {
				t.Errorf("digests: replica a %s, replica b %s, without the poison %s", da[:12], db[:12], dr[:12])
			}
			// The replicas keep working: the next entry applies alike.
			next := cmdLog(t, poisonIndex+1, poisonTime+1, enqueueOp("after", "a"), leaseOp("a", [][]byte{st.Rand(50)}, 0, false))
			for _, f := range []*replica{a, b, ref} {
				if err := resultErr(results(t, f.apply(next), 0)[0]); err != nil {
					t.Fatalf("entry after the poison: %v", err)
				}
			}
			if da, dr := digest(t, a.Store()), digest(t, ref.Store()); da != dr {
				t.Errorf("after one more entry: digest %s, without the poison %s", da[:12], dr[:12])
			}
		})
	}
}

// equalResults compares the results of good ops by what a caller sees.
func equalResults(a, b any) bool {
	switch x := a.(type) {
	case storage.EnqueueResult:
		y, ok := b.(storage.EnqueueResult)
		return ok && x.MessageID == y.MessageID && x.Duplicate == y.Duplicate && x.Err == y.Err
	case storage.LeaseResult:
		y, ok := b.(storage.LeaseResult)
		if !ok || len(x.Deliveries) != len(y.Deliveries) {
			return false
		}
		for i := range x.Deliveries {
			if x.Deliveries[i].DeliveryID != y.Deliveries[i].DeliveryID || !bytes.Equal(x.Deliveries[i].Body, y.Deliveries[i].Body) {
				return false
			}
		}
		return true
	case storage.SettleResult:
		y, ok := b.(storage.SettleResult)
		if !ok || len(x.Items) != len(y.Items) {
			return false
		}
		for i := range x.Items {
			if x.Items[i] != y.Items[i] {
				return false
			}
		}
		return true
	case storage.Result:
		y, ok := b.(storage.Result)
		return ok && x == y
	}
	return false
}

// A poison entry replays like any other after a restart: skipped when the
// store holds it, applied alike (as a no-op) when it does not.
func TestPoisonEntriesReplayAfterRestart(t *testing.T) {
	dir := t.TempDir()
	f := newReplica(t, dir, nil)
	logs := []*raft.Log{
		cmdLog(t, 1, st.T0, putQueueOp("a", st.Config("a", false))),
		{Index: 2, Type: raft.LogCommand, Data: []byte("\xffnot a command")},
		cmdLog(t, 3, st.T0+1, &pb.Op{}, enqueueOp("x", "a"), &pb.Op{Kind: &pb.Op_PutToken{PutToken: &pb.PutToken{}}}),
		cmdLog(t, 4, st.T0+2, enqueueOp("y", "a")),
	}
	f.apply(logs[:3]...)
	if err := f.Store().Close(); err != nil {
		t.Fatal(err)
	}
	f = newReplica(t, dir, nil)
	s := f.Store()
	out := f.apply(logs...) // Raft replays from the start
	for i, r := range out[:3] {
		if r != nil {
			t.Errorf("replayed entry %d answered %v, want nil (skipped)", i+1, r)
		}
	}
	fresh := newReplica(t, "", nil)
	for _, l := range logs {
		fresh.apply(l)
	}
	if s.AppliedIndex() != 4 || digest(t, s) != digest(t, fresh.Store()) {
		t.Errorf("after restart: applied %d, digest differs from a fresh replica: %v", s.AppliedIndex(), digest(t, s) != digest(t, fresh.Store()))
	}
}

func TestRejectedEntriesAreLoggedOnceAndCounted(t *testing.T) {
	var logs bytes.Buffer
	f := newReplica(t, "", slog.New(slog.NewTextHandler(&logs, nil)))
	secret := "s3cret-body-bytes"
	f.apply(
		cmdLog(t, 1, st.T0, putQueueOp("a", st.Config("a", false))),
		&raft.Log{Index: 2, Type: raft.LogCommand, Data: []byte("\xff" + secret)},
		cmdLog(t, 3, st.T0, &pb.Op{}, enqueueOp(secret), enqueueOp("fine", "a")),
		&raft.Log{Index: 4, Type: raft.LogCommand, Data: rawCommand(st.T0, protowire.AppendBytes(protowire.AppendTag(nil, 77, protowire.BytesType), nil))},
	)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(f.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "hookq_fsm_rejected_ops_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{raftfsm.ReasonUndecodable: 1, raftfsm.ReasonEmptyOp: 1, raftfsm.ReasonUnknownOp: 1, raftfsm.ReasonInvalidOp: 1}
	if len(got) != len(want) {
		t.Errorf("hookq_fsm_rejected_ops_total series %v, want %v", got, want)
	}
	for reason, n := range want {
		if got[reason] != n {
			t.Errorf("hookq_fsm_rejected_ops_total{reason=%q} = %v, want %v", reason, got[reason], n)
		}
	}
	out := logs.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Errorf("%d log lines, want one per rejection (4):\n%s", len(lines), out)
	}
	for _, want := range []string{"level=WARN", "index=2 reason=undecodable", "index=3 op=0 reason=empty_op", "index=3 op=1 reason=invalid_op", "index=4 op=0 reason=unknown_op"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, secret) {
		t.Errorf("log holds entry content:\n%s", out)
	}
	// Replaying the same entries (a restart) logs and counts nothing more.
	logs.Reset()
	f.apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: []byte("\xff")})
	if logs.Len() != 0 {
		t.Errorf("a skipped replay logged: %s", logs.String())
	}
}
