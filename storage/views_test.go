package storage_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
)

// listingFixture builds queue a holding, by ingest order: m0 dropped
// (a tombstone), m1 acked, m2 in flight for 1h, m3 delayed 1h, m4..m6 ready.
func listingFixture(t *testing.T) (*st.Harness, map[string]string) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	ids := map[string]string{}
	ids[h.Publish("m0", "a")] = "m0"
	h.Settle("a", st.Reject(h.LeaseOne("a").DeliveryID, ""))
	for _, b := range []string{"m1", "m2", "m3", "m4", "m5", "m6"} {
		ids[h.Publish(b, "a")] = b
	}
	ds := h.Lease("a", 3, time.Hour)
	h.Settle("a", st.Ack(ds[0].DeliveryID), st.NackAfter(ds[2].DeliveryID, time.Hour))
	return h, ids
}

// pages lists every page of q in state, following next.
func pages(t *testing.T, h *st.Harness, ids map[string]string, state string, limit int, now int64) [][]string {
	t.Helper()
	var out [][]string
	after := ""
	for i := 0; i < 20; i++ {
		msgs, next, err := h.Store.Messages("a", state, limit, after, now)
		if err != nil {
			t.Fatalf("messages %q after %q: %v", state, after, err)
		}
		var page []string
		for _, m := range msgs {
			page = append(page, ids[storage.MessageID(m.Seq)])
			if vs := storage.ViewState(m, now); state != "" && vs != state {
				t.Errorf("%s listed under %q is %q", ids[storage.MessageID(m.Seq)], state, vs)
			}
		}
		out = append(out, page)
		if next == "" {
			return out
		}
		if len(msgs) == 0 || next != storage.MessageID(msgs[len(msgs)-1].Seq) {
			t.Fatalf("next %q does not name the last element of %v", next, page)
		}
		after = next
	}
	t.Fatalf("pagination does not end")
	return nil
}

func TestListMessagesByStateWithPagination(t *testing.T) {
	h, ids := listingFixture(t)
	later := h.Now + int64(time.Hour)
	for _, tc := range []struct {
		name  string
		state string
		limit int
		now   int64
		want  [][]string
	}{
		{"all by 2: the tombstone behind the last page is not a next", "", 2, h.Now, [][]string{{"m6", "m5"}, {"m4", "m3"}, {"m2", "m1"}}},
		{"all by 5", "", 5, h.Now, [][]string{{"m6", "m5", "m4", "m3", "m2"}, {"m1"}}},
		{"all in one page", "", 6, h.Now, [][]string{{"m6", "m5", "m4", "m3", "m2", "m1"}}},
		{"ready by 2", storage.StateReady, 2, h.Now, [][]string{{"m6", "m5"}, {"m4"}}},
		{"ready by 3", storage.StateReady, 3, h.Now, [][]string{{"m6", "m5", "m4"}}},
		{"inflight", storage.StateInflight, 10, h.Now, [][]string{{"m2"}}},
		{"delayed", storage.StateDelayed, 10, h.Now, [][]string{{"m3"}}},
		{"acked", storage.StateAcked, 1, h.Now, [][]string{{"m1"}}},
		{"ready an hour later", storage.StateReady, 10, later, [][]string{{"m6", "m5", "m4", "m3", "m2"}}},
		{"delayed an hour later", storage.StateDelayed, 10, later, [][]string{nil}},
		{"no limit", "", 0, h.Now, [][]string{{"m6", "m5", "m4", "m3", "m2", "m1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pages(t, h, ids, tc.state, tc.limit, tc.now)
			if len(got) != len(tc.want) {
				t.Fatalf("pages %v, want %v", got, tc.want)
			}
			for i := range got {
				if !sameStrings(got[i], tc.want[i]) {
					t.Errorf("page %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
	if _, _, err := h.Store.Messages("a", "", 10, "not-an-id", h.Now); err != storage.ErrBadCursor {
		t.Errorf("bad cursor: %v", err)
	}
	if _, _, err := h.Store.Messages("nope", "", 10, "", h.Now); err != storage.ErrQueueNotFound {
		t.Errorf("unknown queue: %v", err)
	}
}

func TestAppliedIndexIsWrittenWithTheBatch(t *testing.T) {
	dir := t.TempDir()
	s := st.MustOpenDir(t, dir)
	tx := s.Begin()
	tx.SetEntry(41, st.T0)
	tx.PutQueue(&pb.PutQueue{Name: "a", Config: st.Config("a", false)})
	tx.SetEntry(42, st.T0+5)
	res := tx.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, Body: []byte("x")})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := s.AppliedIndex(); got != 0 {
		t.Errorf("applied index before commit = %d", got)
	}
	if _, err := s.Queue("a", st.T0); err != storage.ErrQueueNotFound {
		t.Errorf("uncommitted queue visible: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if s.AppliedIndex() != 42 || s.LastTime() != st.T0+5 {
		t.Errorf("after commit: applied %d time %d, want 42, %d", s.AppliedIndex(), s.LastTime(), st.T0+5)
	}
	tx = s.Begin()
	tx.SetEntry(43, st.T0+10)
	tx.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, Body: []byte("y")})
	tx.Discard()
	if s.AppliedIndex() != 42 || s.LastTime() != st.T0+5 {
		t.Errorf("after discard: applied %d time %d", s.AppliedIndex(), s.LastTime())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = st.MustOpenDir(t, dir)
	info, err := s.Queue("a", st.T0+5)
	if s.AppliedIndex() != 42 || err != nil || info.Stats != (storage.Stats{Ready: 1, Enqueued: 1}) {
		t.Errorf("after reopen: applied %d, %+v, %v", s.AppliedIndex(), info.Stats, err)
	}
}

func TestClockNeverGoesBackwards(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.Advance(10 * time.Second)
	h.Publish("first", "a")
	high := h.Now
	h.Now -= int64(5 * time.Second) // a new leader whose clock is behind
	id := h.Publish("second", "a")
	if rec := h.Record("a", id); rec.ReceivedUnixNano != high {
		t.Errorf("received at %d, want the last time %d", rec.ReceivedUnixNano, high)
	}
	if h.Store.LastTime() != high {
		t.Errorf("store clock %d, want %d", h.Store.LastTime(), high)
	}
	tx := h.Store.Begin()
	defer tx.Discard()
	if tx.Now() != high {
		t.Errorf("a new Txn starts at %d, want %d", tx.Now(), high)
	}
	tx.SetEntry(100, high-1)
	if tx.Now() != high {
		t.Errorf("SetEntry went back to %d", tx.Now())
	}
	tx.SetEntry(101, high+1)
	if tx.Now() != high+1 {
		t.Errorf("SetEntry did not advance: %d", tx.Now())
	}
}

func TestSnapshotRestoreReproducesContents(t *testing.T) {
	src, _ := listingFixture(t)
	want, err := src.Store.Digest()
	if err != nil {
		t.Fatal(err)
	}
	sn := src.Store.Snapshot()
	src.Publish("after the snapshot", "a") // not in the stream
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()

	dst := st.New(t)
	dst.PutQueue("other", st.Config("other", true)) // replaced by the restore
	if err := dst.Store.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got, _ := dst.Store.Digest(); got != want {
		t.Errorf("restored digest %s, want %s", got, want)
	}
	if _, err := dst.Store.Queue("other", dst.Now); err != storage.ErrQueueNotFound {
		t.Errorf("queue from before the restore survived: %v", err)
	}
	if dst.Store.AppliedIndex() != src.Index-1 {
		t.Errorf("restored applied index %d, want %d", dst.Store.AppliedIndex(), src.Index-1)
	}

	for _, bad := range [][]byte{nil, []byte("not a snapshot"), buf.Bytes()[:buf.Len()/2]} {
		if err := dst.Store.Restore(bytes.NewReader(bad)); err == nil {
			t.Errorf("restore of %d bad bytes succeeded", len(bad))
		}
		if got, _ := dst.Store.Digest(); got != want {
			t.Errorf("failed restore changed the store")
		}
	}
	// The restored store keeps working and agrees with the source.
	dst.Index, dst.Now = src.Index-1, src.Now
	dst.Publish("after the snapshot", "a")
	a, _ := src.Store.Digest()
	b, _ := dst.Store.Digest()
	if a != b {
		t.Errorf("source and restored store diverged after the same entry")
	}
}

func TestRestoredStoreSurvivesReopen(t *testing.T) {
	src, _ := listingFixture(t)
	want := digestOf(t, src.Store)
	var buf bytes.Buffer
	sn := src.Store.Snapshot()
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()

	dir := t.TempDir()
	s := st.MustOpenDir(t, dir)
	for i := 0; i < 2; i++ { // each restore swaps in a new generation
		if err := s.Restore(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dbs, _ := filepath.Glob(filepath.Join(dir, "db-*"))
	if len(dbs) != 1 {
		t.Errorf("data directories after two restores: %v, want one", dbs)
	}
	s = st.MustOpenDir(t, dir)
	if got := digestOf(t, s); got != want {
		t.Errorf("reopened restored store: digest %s, want %s", got, want)
	}
}

func digestOf(t *testing.T, s *storage.Store) string {
	t.Helper()
	d, err := s.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// An in-memory store (OpenMem) is the same state machine: a snapshot of a
// disk store restores into it (in memory, twice) with the same contents.
func TestMemStoreRestoresASnapshot(t *testing.T) {
	src, _ := listingFixture(t)
	want, err := src.Store.Digest()
	if err != nil {
		t.Fatal(err)
	}
	sn := src.Store.Snapshot()
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	mem, err := storage.OpenMem()
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	for range 2 {
		if err := mem.Restore(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
		if got, _ := mem.Digest(); got != want {
			t.Fatalf("restored digest %s, want %s", got, want)
		}
	}
}
