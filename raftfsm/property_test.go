package raftfsm_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"
)

const sec = int64(time.Second)

// TestFSMAgreesWithModel drives the FSM (Raft logs, several ops per entry
// and several entries per ApplyBatch at times) and the model with the same
// random commands, and compares every result and the stats and listings of
// every queue after each batch.
func TestFSMAgreesWithModel(t *testing.T) {
	base := t.TempDir()
	var runs atomic.Int64
	rapid.Check(t, func(rt *rapid.T) {
		dir := filepath.Join(base, fmt.Sprint(runs.Add(1)))
		store, err := storage.Open(dir)
		if err != nil {
			rt.Fatalf("open: %v", err)
		}
		rt.Cleanup(func() {
			store.Close()
			os.RemoveAll(dir)
		})
		h := &propHarness{rt: rt, fsm: raftfsm.New(store, nil), m: newModel(), clock: st.T0}
		h.setup()
		steps := rapid.IntRange(1, 60).Draw(rt, "steps")
		if testing.Short() {
			steps /= 3
		}
		for i := 0; i < steps; i++ {
			h.step()
			h.check()
		}
	})
}

type propHarness struct {
	rt     *rapid.T
	fsm    *raftfsm.FSM
	m      *model
	index  uint64
	clock  int64    // the leader's clock: the time the next entry carries
	queues []string // every queue, sorted
	ids    []string // every deliveryId handed out, in order
	msgIDs []string // every messageId created by an enqueue
	recv   []int64  // and its receive time
	seen   map[string]bool
	rands  uint64
	bodies int
}

func (h *propHarness) setup() {
	rt := h.rt
	backoff := rapid.SliceOfN(rapid.SampledFrom([]int64{0, sec, 3 * sec}), 0, 3).Draw(rt, "a.backoff")
	a := &pb.QueueConfig{
		VisibilityTimeoutNanos: rapid.SampledFrom([]int64{2 * sec, 10 * sec}).Draw(rt, "a.vis"),
		MaxAttempts:            rapid.Uint32Range(1, 3).Draw(rt, "a.maxAttempts"),
		BackoffNanos:           backoff,
		DeadLetterQueue:        "a.dlq",
		RetentionNanos:         rapid.SampledFrom([]int64{0, 5 * sec, 60 * sec}).Draw(rt, "a.retention"),
	}
	ops := []*pb.Op{putQueueOp("a", a)}
	h.m.entry(h.index+1, h.clock)
	h.m.putQueue("a", modelConfig(a))
	if rapid.Bool().Draw(rt, "with b") {
		b := &pb.QueueConfig{
			VisibilityTimeoutNanos: 5 * sec,
			MaxAttempts:            rapid.Uint32Range(0, 3).Draw(rt, "b.maxAttempts"),
			BackoffNanos:           []int64{sec, 2 * sec},
			RetentionNanos:         10 * sec,
			MaxDepth:               rapid.SampledFrom([]int64{0, 3}).Draw(rt, "b.maxDepth"),
		}
		ops = append(ops, putQueueOp("b", b))
		h.m.putQueue("b", modelConfig(b))
	}
	h.seen = map[string]bool{}
	for q := range h.m.queues {
		h.queues = append(h.queues, q)
	}
	sort.Strings(h.queues)
	h.index++
	out := h.fsm.ApplyBatch([]*raft.Log{h.log(h.index, h.clock, ops)})
	for i, r := range results(rt, out, 0) {
		if res, ok := r.(storage.Result); !ok || res.Err != nil || !res.Created {
			rt.Fatalf("put queue %d: %#v", i, r)
		}
	}
	h.check()
}

func modelConfig(c *pb.QueueConfig) mConfig {
	return mConfig{vis: c.VisibilityTimeoutNanos, maxAttempts: c.MaxAttempts, backoff: c.BackoffNanos,
		dlq: c.DeadLetterQueue, retention: c.RetentionNanos, maxDepth: c.MaxDepth}
}

func (h *propHarness) log(index uint64, now int64, ops []*pb.Op) *raft.Log {
	data, err := proto.Marshal(&pb.Command{LeaderTimeUnixNano: now, Ops: ops})
	if err != nil {
		h.rt.Fatalf("marshal: %v", err)
	}
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

// step either moves the leader clock or applies one ApplyBatch: one entry
// with one op (mostly), one entry with several ops, or several entries.
func (h *propHarness) step() {
	rt := h.rt
	switch rapid.IntRange(0, 10).Draw(rt, "shape") {
	case 0, 1:
		d := rapid.SampledFrom([]int64{1, sec / 2, sec, 2 * sec, 5 * sec, 11 * sec, 61 * sec, -3 * sec}).Draw(rt, "advance")
		h.clock += d // negative: a new leader whose clock is behind
		return
	case 2, 3, 4, 5, 6:
		h.apply([][]*pb.Op{{h.drawOp()}})
	case 7, 8:
		ops := make([]*pb.Op, rapid.IntRange(2, 5).Draw(rt, "ops"))
		for i := range ops {
			ops[i] = h.drawOp()
		}
		h.apply([][]*pb.Op{ops})
	case 9:
		entries := make([][]*pb.Op, rapid.IntRange(2, 4).Draw(rt, "entries"))
		for i := range entries {
			if rapid.IntRange(0, 5).Draw(rt, "noop") == 0 {
				continue // a non-command entry (nil ops)
			}
			entries[i] = make([]*pb.Op, rapid.IntRange(1, 3).Draw(rt, "ops"))
			for j := range entries[i] {
				entries[i][j] = h.drawOp()
			}
		}
		h.apply(entries)
	case 10:
		h.snapshotRestore()
	}
}

// snapshotRestore streams the FSM's snapshot and restores it into the same
// FSM, as a follower installing the leader's snapshot does: the store
// reopens with its in-memory configs rebuilt and its scan hints dropped,
// and every later result must still agree with the model.
func (h *propHarness) snapshotRestore() {
	rt := h.rt
	snap, err := h.fsm.Snapshot()
	if err != nil {
		rt.Fatalf("snapshot: %v", err)
	}
	sink := &memSink{}
	err = snap.Persist(sink)
	snap.Release()
	if err != nil {
		rt.Fatalf("snapshot persist: %v", err)
	}
	if err := h.fsm.Restore(io.NopCloser(&sink.buf)); err != nil {
		rt.Fatalf("restore: %v", err)
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct{ buf bytes.Buffer }

func (m *memSink) Write(p []byte) (int, error) { return m.buf.Write(p) }
func (m *memSink) Close() error                { return nil }
func (m *memSink) ID() string                  { return "mem" }
func (m *memSink) Cancel() error               { return nil }

func (h *propHarness) drawOp() *pb.Op {
	rt := h.rt
	kinds := []string{"enqueue", "enqueue", "lease", "lease", "ack", "nack", "reject", "extend", "sweep"}
	if rapid.IntRange(0, 5).Draw(rt, "admin") == 0 {
		kinds = []string{"redrive", "replay", "purge"}
	}
	switch rapid.SampledFrom(kinds).Draw(rt, "op") {
	case "redrive":
		r := &pb.Redrive{Queue: rapid.SampledFrom([]string{"a.dlq", "a.dlq", "a", "nope"}).Draw(rt, "queue")}
		if len(h.msgIDs) > 0 && rapid.Bool().Draw(rt, "by id") {
			r.MessageIds = rapid.SliceOfN(rapid.SampledFrom(h.msgIDs), 1, 3).Draw(rt, "ids")
		}
		return &pb.Op{Kind: &pb.Op_Redrive{Redrive: r}}
	case "replay":
		r := &pb.Replay{Queue: rapid.SampledFrom(append([]string{"nope"}, h.queues...)).Draw(rt, "queue")}
		if len(h.msgIDs) > 0 && rapid.Bool().Draw(rt, "by id") {
			r.MessageIds = rapid.SliceOfN(rapid.SampledFrom(append([]string{"zz"}, h.msgIDs...)), 1, 3).Draw(rt, "ids")
		} else {
			// Bounds on receive times exactly, to catch off-by-one ends.
			bounds := append([]int64{0, 0, h.clock + sec}, h.recv...)
			r.SinceUnixNano = rapid.SampledFrom(bounds).Draw(rt, "since")
			r.UntilUnixNano = rapid.SampledFrom(bounds).Draw(rt, "until")
		}
		return &pb.Op{Kind: &pb.Op_Replay{Replay: r}}
	case "purge":
		q := rapid.SampledFrom(append([]string{"nope"}, h.queues...)).Draw(rt, "queue")
		return &pb.Op{Kind: &pb.Op_Purge{Purge: &pb.Purge{Queue: q}}}
	case "enqueue":
		targets := [][]string{{"a"}, {"a"}, {"a.dlq"}, {"nope"}}
		if contains(h.queues, "b") {
			targets = append(targets, []string{"b"}, []string{"a", "b"}, []string{"b", "a", "b"})
		}
		h.bodies++
		e := &pb.Enqueue{Source: "s", Queues: rapid.SampledFrom(targets).Draw(rt, "queues"), Body: []byte(fmt.Sprint("m", h.bodies))}
		if rapid.IntRange(0, 2).Draw(rt, "dedup") == 0 {
			e.Source = rapid.SampledFrom([]string{"s", "t"}).Draw(rt, "source")
			e.DedupKey = rapid.SampledFrom([]string{"k1", "k2"}).Draw(rt, "key")
			e.DedupWindowNanos = rapid.SampledFrom([]int64{2 * sec, 30 * sec}).Draw(rt, "window")
		}
		return &pb.Op{Kind: &pb.Op_Enqueue{Enqueue: e}}
	case "lease":
		n := rapid.IntRange(1, 3).Draw(rt, "n")
		rands := make([][]byte, n)
		for i := range rands {
			h.rands++
			rands[i] = st.Rand(h.rands)
		}
		q := rapid.SampledFrom(append([]string{"nope"}, h.queues...)).Draw(rt, "queue")
		vis := rapid.SampledFrom([]int64{0, 0, sec, 4 * sec, 20 * sec, 13 * 3600 * sec}).Draw(rt, "vis")
		return leaseOp(q, rands, vis, rapid.IntRange(0, 9).Draw(rt, "autoAck") == 0)
	case "sweep":
		return sweepOp()
	}
	// A settle: of a delivery handed out so far (recent ones more likely),
	// or of an id nobody handed out.
	q, id := "a", "garbage"
	if len(h.ids) > 0 && rapid.IntRange(0, 9).Draw(rt, "garbage") > 0 {
		back := rapid.IntRange(0, min(len(h.ids)-1, 7)).Draw(rt, "back")
		if rapid.Bool().Draw(rt, "any") {
			back = rapid.IntRange(0, len(h.ids)-1).Draw(rt, "back")
		}
		id = h.ids[len(h.ids)-1-back]
		q = h.m.deliveries[id].queue
	}
	it := &pb.SettleItem{DeliveryId: id}
	switch rapid.SampledFrom([]string{"ack", "nack", "reject", "extend"}).Draw(rt, "action") {
	case "ack":
		it.Action = pb.SettleAction_ACK
	case "nack":
		it.Action = pb.SettleAction_NACK
		if it.HasDelay = rapid.Bool().Draw(rt, "hasDelay"); it.HasDelay {
			it.DelayNanos = rapid.SampledFrom([]int64{0, sec, 4 * sec}).Draw(rt, "delay")
		}
	case "reject":
		it.Action = pb.SettleAction_REJECT
		it.Reason = rapid.SampledFrom([]string{"", "bad"}).Draw(rt, "reason")
	case "extend":
		it.Action = pb.SettleAction_EXTEND
		it.VisibilityNanos = rapid.SampledFrom([]int64{sec, 10 * sec, 13 * 3600 * sec}).Draw(rt, "extendBy")
	}
	return settleOp(q, it)
}

// apply sends entries (nil: a non-command entry) as one ApplyBatch, the
// leader clock moving a little between entries, and checks each op's
// result against the model.
func (h *propHarness) apply(entries [][]*pb.Op) {
	rt := h.rt
	logs := make([]*raft.Log, len(entries))
	times := make([]int64, len(entries))
	for i, ops := range entries {
		if i > 0 {
			h.clock += rapid.SampledFrom([]int64{0, 1, sec}).Draw(rt, "between")
		}
		h.index++
		times[i] = h.clock
		if ops == nil {
			logs[i] = &raft.Log{Index: h.index, Term: 1, Type: raft.LogNoop}
			continue
		}
		logs[i] = h.log(h.index, h.clock, ops)
	}
	out := h.fsm.ApplyBatch(logs)
	if len(out) != len(logs) {
		rt.Fatalf("ApplyBatch answered %d results for %d logs", len(out), len(logs))
	}
	for i, ops := range entries {
		if ops == nil {
			h.m.entry(logs[i].Index, 0)
			continue
		}
		h.m.entry(logs[i].Index, times[i])
		res := results(rt, out, i)
		if len(res) != len(ops) {
			rt.Fatalf("entry %d: %d results for %d ops", i, len(res), len(ops))
		}
		for j, op := range ops {
			h.checkOp(op, res[j])
		}
	}
}

func (h *propHarness) checkOp(op *pb.Op, got any) {
	rt := h.rt
	m := h.m
	switch k := op.Kind.(type) {
	case *pb.Op_Enqueue:
		e := k.Enqueue
		want := m.enqueue(e.Source, e.Queues, string(e.Body), e.DedupKey, e.DedupWindowNanos)
		r := got.(storage.EnqueueResult)
		if !sameErr(r.Err, want.err) || r.MessageID != want.id || r.Duplicate != want.duplicate {
			rt.Fatalf("enqueue %v at %d: got %+v, want %+v", e.Queues, m.now, r, want)
		}
		if r.Err == nil && !r.Duplicate {
			h.msgIDs = append(h.msgIDs, r.MessageID)
			h.recv = append(h.recv, m.now)
		}
	case *pb.Op_Lease:
		l := k.Lease
		want, werr := m.lease(l.Queue, len(l.DeliveryRands), l.VisibilityNanos, l.AutoAck)
		r := got.(storage.LeaseResult)
		if !sameErr(r.Err, werr) || len(r.Deliveries) != len(want) {
			rt.Fatalf("lease %s x%d at %d: got %d deliveries (%v), want %d (%v)", l.Queue, len(l.DeliveryRands), m.now, len(r.Deliveries), r.Err, len(want), werr)
		}
		for i, d := range r.Deliveries {
			w := want[i]
			gotDL, wantDL := d.Message.GetDeadLetter(), w.msg.dead
			if d.Queue != w.queue || d.Message.Seq != w.msg.seq || d.Message.Attempts != w.attempt ||
				d.LeaseExpires != w.leaseEnd || string(d.Body) != w.msg.body || !sameDead(gotDL, wantDL) ||
				d.Message.ReplayOf != w.msg.replayOf || d.Message.ReceivedUnixNano != w.msg.received {
				rt.Fatalf("lease %s delivery %d at %d: got %s seq %x attempt %d until %d body %q dl %v; want seq %x attempt %d until %d body %q dl %+v",
					l.Queue, i, m.now, d.Queue, d.Message.Seq, d.Message.Attempts, d.LeaseExpires, d.Body, gotDL,
					w.msg.seq, w.attempt, w.leaseEnd, w.msg.body, wantDL)
			}
			if d.DeliveryID == "" || h.seen[d.DeliveryID] {
				rt.Fatalf("deliveryId %q empty or reused", d.DeliveryID)
			}
			h.seen[d.DeliveryID] = true
			h.ids = append(h.ids, d.DeliveryID)
			m.bind(w, d.DeliveryID)
		}
	case *pb.Op_Settle:
		items := make([]mSettleItem, len(k.Settle.Items))
		for i, it := range k.Settle.Items {
			items[i] = mSettleItem{id: it.DeliveryId, hasDelay: it.HasDelay, delay: it.DelayNanos, reason: it.Reason, vis: it.VisibilityNanos}
			switch it.Action {
			case pb.SettleAction_ACK:
				items[i].action = "ack"
			case pb.SettleAction_NACK:
				items[i].action = "nack"
			case pb.SettleAction_REJECT:
				items[i].action = "reject"
			case pb.SettleAction_EXTEND:
				items[i].action = "extend"
			}
		}
		want, werr := m.settle(k.Settle.Queue, items)
		r := got.(storage.SettleResult)
		if !sameErr(r.Err, werr) || len(r.Items) != len(want) {
			rt.Fatalf("settle %s: got %+v, want %v %+v", k.Settle.Queue, r, werr, want)
		}
		for i, it := range r.Items {
			if !sameErr(it.Err, want[i].err) || it.LeaseExpires != want[i].leaseEnd || it.DeliveryID != items[i].id {
				rt.Fatalf("settle %s %s %s at %d: got %v until %d, want %v until %d",
					k.Settle.Queue, items[i].action, items[i].id, m.now, it.Err, it.LeaseExpires, want[i].err, want[i].leaseEnd)
			}
		}
	case *pb.Op_Redrive:
		n, err := m.redrive(k.Redrive.Queue, k.Redrive.MessageIds)
		h.checkAdmin(fmt.Sprintf("redrive %s %v", k.Redrive.Queue, k.Redrive.MessageIds), got, n, err)
	case *pb.Op_Replay:
		r := k.Replay
		n, err := m.replay(r.Queue, r.MessageIds, r.SinceUnixNano, r.UntilUnixNano)
		h.checkAdmin(fmt.Sprintf("replay %s %v [%d,%d)", r.Queue, r.MessageIds, r.SinceUnixNano, r.UntilUnixNano), got, n, err)
	case *pb.Op_Purge:
		n, err := m.purge(k.Purge.Queue)
		h.checkAdmin("purge "+k.Purge.Queue, got, n, err)
	case *pb.Op_Sweep:
		want := m.sweep()
		r := got.(storage.Result)
		if r.Err != nil || r.Count != want {
			rt.Fatalf("sweep at %d: got %+v, want count %d", m.now, r, want)
		}
	default:
		rt.Fatalf("unexpected op %T", k)
	}
}

func (h *propHarness) checkAdmin(what string, got any, n int64, err error) {
	r := got.(storage.Result)
	if !sameErr(r.Err, err) || r.Count != n {
		h.rt.Fatalf("%s at %d: got %+v, want %d %v", what, h.m.now, r, n, err)
	}
}

func sameDead(got *pb.DeadLetterInfo, want *mDead) bool {
	if want == nil {
		return got == nil
	}
	return got != nil && got.OriginQueue == want.origin && got.Reason == want.reason &&
		got.Attempts == want.attempts && got.DeadUnixNano == want.at
}

// check compares the store with the model: clock, applied index, and for
// every queue the stats now and a little later, and the listing now.
func (h *propHarness) check() {
	rt := h.rt
	s := h.fsm.Store()
	if s.AppliedIndex() != h.index || s.LastTime() != h.m.now {
		rt.Fatalf("store at index %d time %d, model at %d time %d", s.AppliedIndex(), s.LastTime(), h.index, h.m.now)
	}
	for _, q := range h.queues {
		for _, at := range []int64{h.m.now, h.m.now + 3*sec} {
			info, err := s.Queue(q, at)
			if err != nil {
				rt.Fatalf("queue %s: %v", q, err)
			}
			if want := h.m.stats(q, at); info.Stats != want {
				rt.Fatalf("stats of %s at now+%v:\n got %+v\nwant %+v", q, time.Duration(at-h.m.now), info.Stats, want)
			}
		}
		msgs, next, err := s.Messages(q, "", 1000, "", h.m.now)
		if err != nil || next != "" {
			rt.Fatalf("messages of %s: next %q, %v", q, next, err)
		}
		want := h.m.list(q, h.m.now)
		if len(msgs) != len(want) {
			rt.Fatalf("%s lists %d messages, model %d", q, len(msgs), len(want))
		}
		for i, rec := range msgs {
			w := want[i]
			if id := storage.MessageID(rec.Seq); id != w.id || storage.ViewState(rec, h.m.now) != w.state ||
				rec.Attempts != w.attempts || !sameDead(rec.DeadLetter, w.dead) || rec.ReplayOf != w.replayOf ||
				rec.ReceivedUnixNano != w.received {
				rt.Fatalf("%s listing %d: got %s %s attempts %d dl %v replayOf %q received %d; want %+v",
					q, i, id, storage.ViewState(rec, h.m.now), rec.Attempts, rec.DeadLetter, rec.ReplayOf, rec.ReceivedUnixNano, w)
			}
		}
	}
}
