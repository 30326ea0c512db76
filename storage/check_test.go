package storage_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"runtime"
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
)

// Durations from the log are added to the clock saturating: a huge delay,
// visibility or dedup window means "far future", never a wrap into the past.
func TestHugeDurationsSaturateInsteadOfWrapping(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(t *testing.T, h *st.Harness)
	}{
		{"nack delay", func(t *testing.T, h *st.Harness) {
			d := h.LeaseOne("a")
			if err := h.SettleOne("a", st.NackAfter(d.DeliveryID, time.Duration(math.MaxInt64))); err != nil {
				t.Fatal(err)
			}
			if s := h.Stats("a"); s.Delayed != 1 || s.Ready != 0 {
				t.Errorf("after a nack with the largest delay: %+v, want one delayed message", s)
			}
			if rec := h.Record("a", storage.MessageID(d.Message.Seq)); rec.AvailableUnixNano != math.MaxInt64 {
				t.Errorf("available at %d, want the end of time", rec.AvailableUnixNano)
			}
		}},
		{"extend visibility", func(t *testing.T, h *st.Harness) {
			d := h.LeaseOne("a")
			res := h.Settle("a", &pb.SettleItem{DeliveryId: d.DeliveryID, Action: pb.SettleAction_EXTEND, VisibilityNanos: math.MaxInt64})
			if want := h.Now + storage.MaxLease; res[0].Err != nil || res[0].LeaseExpires != want {
				t.Errorf("extend: %+v, want the lease to end at %d (MaxLease)", res[0], want)
			}
			if err := h.SettleOne("a", st.Ack(d.DeliveryID)); err != nil {
				t.Errorf("ack after the extend: %v", err)
			}
		}},
		{"dedup window", func(t *testing.T, h *st.Harness) {
			op := &pb.Enqueue{Source: "s", Queues: []string{"a"}, Body: []byte("x"), DedupKey: "k", DedupWindowNanos: math.MaxInt64}
			first := h.Enqueue(op)
			h.Advance(24 * time.Hour)
			again := h.Enqueue(op)
			if first.Err != nil || !again.Duplicate || again.MessageID != first.MessageID {
				t.Errorf("enqueue twice in a window of max int64: %+v then %+v, want a duplicate", first, again)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := st.New(t)
			h.PutQueue("a", st.Config("a", false))
			h.Publish("m", "a")
			tc.check(t, h)
		})
	}
}

// A discarded transaction leaves the store as it was, scan hints included:
// messages its leases took stay available.
func TestDiscardedLeasesHideNothing(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	first := h.Publish("m1", "a")
	h.Publish("m2", "a")
	h.Publish("m3", "a")
	txn := h.Store.Begin()
	txn.SetEntry(h.Index+1, h.Now)
	for i := 0; i < 2; i++ {
		if r := txn.Lease(&pb.Lease{Queue: "a", DeliveryRands: h.Rands(1)}); len(r.Deliveries) != 1 {
			t.Fatalf("lease in the discarded txn: %+v", r)
		}
	}
	txn.Discard()
	if d := h.LeaseOne("a"); storage.MessageID(d.Message.Seq) != first {
		t.Errorf("after a discarded txn the first lease got %s, want the oldest message %s", storage.MessageID(d.Message.Seq), first)
	}
}

// A snapshot whose length prefix claims far more than the stream holds
// fails to restore without allocating what it claims, and changes nothing.
func TestRestoreOfLyingLengthAllocatesNothing(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.Publish("m", "a")
	want, err := h.Store.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, claim := range []uint64{200 << 20, 1 << 30, math.MaxUint64} {
		stream := binary.AppendUvarint([]byte("hookq-snapshot-v1\n"), claim)
		stream = append(stream, "only a few bytes"...)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := h.Store.Restore(bytes.NewReader(stream))
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("claim %d: restore succeeded", claim)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("claim %d: restore allocated %d MiB for a %d-byte stream", claim, grew>>20, len(stream))
		}
		if got, _ := h.Store.Digest(); got != want {
			t.Errorf("claim %d: failed restore changed the store", claim)
		}
	}
}
