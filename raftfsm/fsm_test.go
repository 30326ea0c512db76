package raftfsm_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
)

func TestSameLogYieldsIdenticalBytes(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		w := newWorkload(t, seed)
		w.run(300)
		want := digest(t, w.leader.Store())
		// One entry per call, odd chunks, and everything at once.
		for _, sizes := range [][]int{{1}, {3, 1, 7}, {len(w.logs)}} {
			f := mustFSM(t)
			applyChunks(f, w.logs, sizes...)
			if got := digest(t, f.Store()); got != want {
				t.Errorf("seed %d, batches %v: digest %s, leader %s", seed, sizes, got, want)
			}
			if f.Store().AppliedIndex() != uint64(len(w.logs)) {
				t.Errorf("seed %d: applied index %d, want %d", seed, f.Store().AppliedIndex(), len(w.logs))
			}
		}
	}
	// Different logs give different bytes: the digest is not blind.
	a, b := newWorkload(t, 7), newWorkload(t, 8)
	a.run(20)
	b.run(20)
	if digest(t, a.leader.Store()) == digest(t, b.leader.Store()) {
		t.Errorf("two different logs produced the same digest")
	}
}

func TestReapplyingAppliedEntriesChangesNothing(t *testing.T) {
	w := newWorkload(t, 4)
	w.run(100)
	dir := t.TempDir()
	s, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := raftfsm.New(s, nil)
	applyChunks(f, w.logs, 5)
	want := digest(t, s)
	for _, logs := range [][]*raft.Log{w.logs, w.logs[40:], w.logs[len(w.logs)-1:]} {
		for i, r := range f.ApplyBatch(logs) {
			if r != nil {
				t.Fatalf("re-applied entry %d answered %v, want nil", logs[i].Index, r)
			}
		}
		if got := digest(t, s); got != want {
			t.Fatalf("re-applying %d entries changed the store", len(logs))
		}
	}
	// After a restart Raft replays its log from the start: still nothing.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = st.MustOpenDir(t, dir)
	f = raftfsm.New(s, nil)
	applyChunks(f, w.logs, 1, 9)
	if got := digest(t, s); got != want {
		t.Fatalf("replay after reopening changed the store")
	}
	// A batch straddling the applied index applies only the new entries.
	w.run(3)
	n := len(w.logs)
	out := f.ApplyBatch(w.logs[n-5:])
	for i, r := range out {
		l := w.logs[n-5+i]
		if old := i < 2; old && r != nil || !old && l.Type == raft.LogCommand && r == nil {
			t.Errorf("straddling batch, entry %d (already applied: %v): answer %v", l.Index, old, r)
		}
	}
	if got, want := digest(t, s), digest(t, w.leader.Store()); got != want {
		t.Errorf("after a straddling batch the store differs from the leader's")
	}
}

func TestSnapshotRestoreReproducesStateAndKeepsWorking(t *testing.T) {
	w := newWorkload(t, 5)
	w.run(150)
	src := mustFSM(t)
	applyChunks(src, w.logs, 4)
	atSnapshot := digest(t, src.Store())
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Entries applied after Snapshot returns are not in the stream.
	n := len(w.logs)
	w.run(50)
	applyChunks(src, w.logs[n:], 2)
	sink := &bufferSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("persist: %v", err)
	}
	snap.Release()
	if !sink.closed || sink.cancelled {
		t.Errorf("sink closed %v cancelled %v, want closed", sink.closed, sink.cancelled)
	}

	dst := mustFSM(t)
	applyChunks(dst, newWorkloadLogs(t, 6, 30), 3) // state the restore must replace
	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := digest(t, dst.Store()); got != atSnapshot {
		t.Fatalf("restored digest %s, want %s", got, atSnapshot)
	}
	// The restored FSM skips what the snapshot holds and applies the rest.
	applyChunks(dst, w.logs, 7)
	if got, want := digest(t, dst.Store()), digest(t, src.Store()); got != want {
		t.Fatalf("after catching up: restored %s, source %s", got, want)
	}
	w.run(60)
	tail := w.logs[len(w.logs)-60:]
	applyChunks(src, tail, 1)
	applyChunks(dst, tail, 60)
	if got, want := digest(t, dst.Store()), digest(t, src.Store()); got != want {
		t.Errorf("after more entries: restored %s, source %s", got, want)
	}
	if got, want := digest(t, src.Store()), digest(t, w.leader.Store()); got != want {
		t.Errorf("source differs from the leader")
	}
}

func newWorkloadLogs(tb testing.TB, seed uint64, n int) []*raft.Log {
	w := newWorkload(tb, seed)
	w.run(n)
	return w.logs
}

type failingSink struct{ bufferSink }

func (s *failingSink) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPersistFailureCancelsSink(t *testing.T) {
	f := mustFSM(t)
	applyChunks(f, newWorkloadLogs(t, 9, 20), 20)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &failingSink{}
	if err := snap.Persist(sink); err == nil {
		t.Errorf("persist into a failing sink succeeded")
	}
	if !sink.cancelled || sink.closed {
		t.Errorf("failing sink: cancelled %v closed %v, want cancelled", sink.cancelled, sink.closed)
	}
}

func TestRestoreOfGarbageFailsAndKeepsState(t *testing.T) {
	f := mustFSM(t)
	applyChunks(f, newWorkloadLogs(t, 10, 20), 20)
	want := digest(t, f.Store())
	if err := f.Restore(io.NopCloser(strings.NewReader("garbage"))); err == nil {
		t.Errorf("restore of garbage succeeded")
	}
	if digest(t, f.Store()) != want {
		t.Errorf("failed restore changed the state")
	}
}

func TestDomainErrorsAreResults(t *testing.T) {
	f := mustFSM(t)
	out := f.ApplyBatch([]*raft.Log{cmdLog(t, 1, st.T0,
		enqueueOp("x", "nope"),
		leaseOp("nope", [][]byte{st.Rand(1)}, 0, false),
		settleOp("nope", st.Ack("d")),
		&pb.Op{Kind: &pb.Op_Redrive{Redrive: &pb.Redrive{Queue: "nope"}}},
		&pb.Op{Kind: &pb.Op_DeleteToken{DeleteToken: &pb.DeleteToken{Name: "nope"}}},
	)})
	res := results(t, out, 0)
	errs := []error{
		res[0].(storage.EnqueueResult).Err, res[1].(storage.LeaseResult).Err, res[2].(storage.SettleResult).Err,
		res[3].(storage.Result).Err, res[4].(storage.Result).Err,
	}
	want := []error{storage.ErrQueueNotFound, storage.ErrQueueNotFound, storage.ErrQueueNotFound, storage.ErrQueueNotFound, storage.ErrTokenNotFound}
	for i := range errs {
		if !errors.Is(errs[i], want[i]) {
			t.Errorf("op %d: %v, want %v", i, errs[i], want[i])
		}
	}
	if f.Store().AppliedIndex() != 1 {
		t.Errorf("applied index %d after an entry of failed ops, want 1", f.Store().AppliedIndex())
	}
}

func TestNonCommandEntriesAdvanceAppliedIndex(t *testing.T) {
	f := mustFSM(t)
	out := f.ApplyBatch([]*raft.Log{
		cmdLog(t, 1, st.T0, putQueueOp("a", st.Config("a", false))),
		{Index: 2, Type: raft.LogConfiguration},
		{Index: 3, Type: raft.LogNoop},
	})
	if out[1] != nil || out[2] != nil {
		t.Errorf("non-command entries answered %v, %v", out[1], out[2])
	}
	if f.Store().AppliedIndex() != 3 || f.Store().LastTime() != st.T0 {
		t.Errorf("applied %d time %d, want 3, T0", f.Store().AppliedIndex(), f.Store().LastTime())
	}
	// Apply is ApplyBatch of one.
	r := f.Apply(cmdLog(t, 4, st.T0+1, enqueueOp("x", "a")))
	if res := r.(*raftfsm.Response).Results[0].(storage.EnqueueResult); res.Err != nil || res.MessageID != storage.MessageID(4<<20|1) {
		t.Errorf("Apply: %+v", res)
	}
}

func TestNotifyReportsWokenQueuesAfterCommit(t *testing.T) {
	var calls [][]string
	var f *raftfsm.FSM
	f = raftfsm.New(st.MustOpen(t), func(qs []string) {
		// Called after commit: the new messages are visible.
		info, err := f.Store().Queue(qs[0], st.T0)
		if err != nil || info.Stats.Enqueued == 0 {
			t.Errorf("notify before commit: %+v %v", info.Stats, err)
		}
		calls = append(calls, qs)
	})
	f.ApplyBatch([]*raft.Log{
		cmdLog(t, 1, st.T0, putQueueOp("b", st.Config("b", false)), putQueueOp("a", st.Config("a", false))),
	})
	if len(calls) != 0 {
		t.Errorf("notify for an entry that woke nothing: %v", calls)
	}
	f.ApplyBatch([]*raft.Log{
		cmdLog(t, 2, st.T0, enqueueOp("x", "b")),
		cmdLog(t, 3, st.T0, enqueueOp("y", "a", "b"), leaseOp("a", [][]byte{st.Rand(1)}, int64(time.Second), false)),
	})
	if len(calls) != 1 || strings.Join(calls[0], ",") != "a,b" {
		t.Errorf("notify calls %v, want one call [a b]", calls)
	}
}
