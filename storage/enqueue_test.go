package storage_test

import (
	"fmt"
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
)

// wantID is the messageId of the n-th message (from 1) created by Raft
// entry index: 16 hex digits of index<<20 | n, computed here by hand.
func wantID(index uint64, n int) string { return fmt.Sprintf("%016x", index<<20|uint64(n)) }

func TestEnqueueFanOutSharesMessageID(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.PutQueue("b", st.Config("b", false))
	res := h.Enqueue(&pb.Enqueue{
		Source: "github", Queues: []string{"a", "b", "a"}, Body: []byte("payload"),
		ContentType: []byte("application/json"), EventId: "evt-1",
		Headers: []*pb.Header{{Name: "X-Github-Event", Value: []byte("push")}},
	})
	if res.Err != nil || res.Duplicate {
		t.Fatalf("enqueue: %+v", res)
	}
	if res.MessageID != wantID(h.Index, 1) {
		t.Errorf("messageId = %s, want %s", res.MessageID, wantID(h.Index, 1))
	}
	for _, q := range []string{"a", "b"} {
		rec, body, err := h.Store.Message(q, res.MessageID)
		if err != nil {
			t.Fatalf("message in %s: %v", q, err)
		}
		if string(body) != "payload" || string(rec.ContentType) != "application/json" || rec.EventId != "evt-1" ||
			rec.Source != "github" || rec.ReceivedUnixNano != h.Now || len(rec.Headers) != 1 {
			t.Errorf("copy in %s: body %q, record %v", q, body, rec)
		}
		// A queue named twice gets one copy.
		h.WantStats(q, storage.Stats{Ready: 1, Enqueued: 1})
	}
}

func TestEnqueueIDsSortByIngestOrder(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	var ids []string
	var results [3]storage.EnqueueResult
	h.Apply(func(tx *storage.Txn) {
		for i := range results {
			results[i] = tx.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, Body: []byte{byte(i)}})
		}
	})
	for i, r := range results {
		if r.MessageID != wantID(h.Index, i+1) {
			t.Errorf("message %d of one entry: id %s, want %s", i, r.MessageID, wantID(h.Index, i+1))
		}
		ids = append(ids, r.MessageID)
	}
	ids = append(ids, h.Publish("later", "a"))
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Errorf("ids not increasing: %v", ids)
		}
		if seq, ok := storage.ParseMessageID(ids[i]); !ok || storage.MessageID(seq) != ids[i] {
			t.Errorf("id %s does not round-trip", ids[i])
		}
	}
}

func TestEnqueueToUnknownQueueWritesNothing(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	res := h.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a", "nope"}, Body: []byte("x"), DedupKey: "k", DedupWindowNanos: int64(time.Hour)})
	st.WantErr(t, "enqueue", res.Err, storage.ErrQueueNotFound)
	if res.MessageID != "" {
		t.Errorf("messageId %q on error", res.MessageID)
	}
	h.WantStats("a", storage.Stats{})
	msgs, _, err := h.Store.Messages("a", "", 10, "", h.Now)
	if err != nil || len(msgs) != 0 {
		t.Errorf("messages of a = %v, %v; want none", msgs, err)
	}
	// The dedup key was not recorded either.
	again := h.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, Body: []byte("x"), DedupKey: "k", DedupWindowNanos: int64(time.Hour)})
	if again.Err != nil || again.Duplicate {
		t.Errorf("retry after failed enqueue: %+v, want a new message", again)
	}
}

func TestEnqueueAtMaxDepthAnswersQueueFull(t *testing.T) {
	h := st.New(t)
	cfg := st.Config("a", false)
	cfg.MaxDepth = 3
	h.PutQueue("a", cfg)
	h.PutQueue("b", st.Config("b", false))
	h.Publish("ready", "a")
	d := h.LeaseOne("a")                                                                 // in flight counts
	h.Publish("delayed", "a")                                                            // becomes delayed below
	dd := h.Lease("a", 1, 0)[0]                                                          // lease it to nack it with a delay
	st.WantErr(t, "nack", h.SettleOne("a", st.NackAfter(dd.DeliveryID, time.Hour)), nil) // delayed counts
	h.Publish("third", "a")
	h.WantStats("a", storage.Stats{Ready: 1, Inflight: 1, Delayed: 1, Enqueued: 3, Delivered: 2})

	res := h.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"b", "a"}, Body: []byte("x")})
	st.WantErr(t, "enqueue into full queue", res.Err, storage.ErrQueueFull)
	h.WantStats("b", storage.Stats{}) // fan-out is all or nothing

	st.WantErr(t, "ack", h.SettleOne("a", st.Ack(d.DeliveryID)), nil)
	if res := h.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"b", "a"}, Body: []byte("x")}); res.Err != nil {
		t.Errorf("enqueue after ack freed room: %v", res.Err)
	}
	h.WantStats("b", storage.Stats{Ready: 1, Enqueued: 1})
}

func TestDuplicateWithinWindowAnswersFirstID(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	op := func(src string) *pb.Enqueue {
		return &pb.Enqueue{Source: src, Queues: []string{"a"}, Body: []byte("x"), DedupKey: "evt-1", DedupWindowNanos: int64(time.Hour)}
	}
	first := h.Enqueue(op("stripe"))
	h.Advance(time.Hour - 1)
	dup := h.Enqueue(op("stripe"))
	if dup.Err != nil || !dup.Duplicate || dup.MessageID != first.MessageID {
		t.Errorf("duplicate inside window: %+v, want duplicate of %s", dup, first.MessageID)
	}
	h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 1, OldestReadyAgeNanos: int64(time.Hour - 1)})
	// Dedup keys are per source.
	other := h.Enqueue(op("github"))
	if other.Duplicate || other.MessageID == first.MessageID {
		t.Errorf("same key, other source: %+v, want a new message", other)
	}
	// Two enqueues with one key in one entry: the second is the duplicate.
	var r1, r2 storage.EnqueueResult
	h.Apply(func(tx *storage.Txn) {
		r1 = tx.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, DedupKey: "same", DedupWindowNanos: int64(time.Hour)})
		r2 = tx.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, DedupKey: "same", DedupWindowNanos: int64(time.Hour)})
	})
	if r1.Duplicate || !r2.Duplicate || r2.MessageID != r1.MessageID {
		t.Errorf("one entry: %+v then %+v", r1, r2)
	}
}

func TestDuplicateAfterWindowCreatesNewMessage(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	op := &pb.Enqueue{Source: "s", Queues: []string{"a"}, Body: []byte("x"), DedupKey: "k", DedupWindowNanos: int64(time.Minute)}
	first := h.Enqueue(op)
	h.Advance(time.Minute) // the window is [received, received+window)
	second := h.Enqueue(op)
	if second.Err != nil || second.Duplicate || second.MessageID == first.MessageID {
		t.Fatalf("after window: %+v, want a new message", second)
	}
	// The new message opens a new window.
	h.Advance(time.Minute - 1)
	third := h.Enqueue(op)
	if !third.Duplicate || third.MessageID != second.MessageID {
		t.Errorf("inside the new window: %+v, want duplicate of %s", third, second.MessageID)
	}
	h.WantStats("a", storage.Stats{Ready: 2, Enqueued: 2, OldestReadyAgeNanos: int64(2*time.Minute - 1)})
}

func TestSweepDropsExpiredDedupEntries(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	for i, w := range []time.Duration{time.Minute, time.Hour} {
		h.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, DedupKey: fmt.Sprint(i), DedupWindowNanos: int64(w)})
	}
	h.Advance(time.Minute - 1)
	if n := h.Sweep().Count; n != 0 {
		t.Errorf("sweep before expiry handled %d, want 0", n)
	}
	h.Advance(1)
	if n := h.Sweep().Count; n != 1 {
		t.Errorf("sweep at expiry of one entry handled %d, want 1", n)
	}
	if n := h.Sweep().Count; n != 0 {
		t.Errorf("second sweep handled %d, want 0", n)
	}
	if h.Store.SweepDue(h.Now) {
		t.Errorf("SweepDue after sweeping everything")
	}
	if !h.Store.SweepDue(h.Now + int64(time.Hour)) {
		t.Errorf("SweepDue false when the hour-long entry has expired")
	}
	// The dropped key is free again; the live one still deduplicates.
	if r := h.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, DedupKey: "0", DedupWindowNanos: int64(time.Minute)}); r.Duplicate {
		t.Errorf("swept key still deduplicates")
	}
	if r := h.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, DedupKey: "1", DedupWindowNanos: int64(time.Hour)}); !r.Duplicate {
		t.Errorf("live key no longer deduplicates")
	}
	// A key re-enqueued after its window leaves exactly one expiry entry.
	h.Advance(2 * time.Minute)
	if n := h.Sweep().Count; n != 1 {
		t.Errorf("sweep of the re-enqueued key handled %d, want 1", n)
	}
}
