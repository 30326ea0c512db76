package storage_test

import (
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
	"google.golang.org/protobuf/proto"
)

// adminCall applies one Redrive, Replay or Purge as its own entry.
type adminCall struct{ op proto.Message }

func (c adminCall) run(h *st.Harness) storage.Result {
	var res storage.Result
	h.Apply(func(tx *storage.Txn) {
		switch op := c.op.(type) {
		case *pb.Redrive:
			res = tx.Redrive(op)
		case *pb.Replay:
			res = tx.Replay(op)
		case *pb.Purge:
			res = tx.Purge(op)
		default:
			panic("adminCall: unexpected op")
		}
	})
	return res
}

func TestRedriveMovesBackWithAttemptsReset(t *testing.T) {
	h := st.New(t)
	cfg := st.Config("a", true)
	cfg.MaxAttempts = 3
	h.PutQueue("a", cfg)
	ids := []string{}
	for _, b := range []string{"x", "y", "z"} {
		id := h.Publish(b, "a")
		d := h.LeaseOne("a")
		h.Settle("a", st.Reject(d.DeliveryID, ""))
		ids = append(ids, id)
	}
	h.WantStats("a.dlq", storage.Stats{Ready: 3, Enqueued: 3})
	// One DLQ message is in flight: only ready ones move.
	inflight := h.Lease("a.dlq", 1, time.Hour)[0]
	h.Advance(time.Minute)

	res := adminCall{&pb.Redrive{Queue: "a.dlq", MessageIds: []string{ids[1], "bogus", "0000000000000001"}}}.run(h)
	if res.Err != nil || res.Count != 1 {
		t.Fatalf("redrive by id: %+v, want 1", res)
	}
	res = adminCall{&pb.Redrive{Queue: "a.dlq"}}.run(h)
	if res.Err != nil || res.Count != 1 {
		t.Fatalf("redrive all: %+v, want 1 (the other is in flight)", res)
	}
	if storage.MessageID(inflight.Message.Seq) != ids[0] {
		t.Fatalf("DLQ leased %s first, want %s", storage.MessageID(inflight.Message.Seq), ids[0])
	}
	h.WantStats("a.dlq", storage.Stats{Inflight: 1, Enqueued: 3, Delivered: 1})
	h.WantStats("a", storage.Stats{Ready: 2, Enqueued: 5, Delivered: 3, DeadLettered: 3})
	for _, id := range ids[1:] {
		rec := h.Record("a", id)
		if rec.Attempts != 0 || rec.DeadLetter != nil || rec.State != pb.MessageState_PENDING {
			t.Errorf("redriven %s: %v", id, rec)
		}
		if _, _, err := h.Store.Message("a.dlq", id); err == nil {
			t.Errorf("redriven %s still in the DLQ", id)
		}
	}
	// Attempts restart: the full maxAttempts budget again.
	ds := h.Lease("a", 2, 0)
	if len(ds) != 2 || storage.MessageID(ds[0].Message.Seq) != ids[1] || storage.MessageID(ds[1].Message.Seq) != ids[2] ||
		ds[0].Message.Attempts != 1 || ds[1].Message.Attempts != 1 {
		t.Fatalf("lease after redrive: %v", ds)
	}
	h.Settle("a", st.Ack(ds[1].DeliveryID), st.NackAfter(ds[0].DeliveryID, 0))
	for attempt := uint32(2); attempt <= 3; attempt++ {
		d := h.LeaseOne("a")
		if d.Message.Attempts != attempt || storage.MessageID(d.Message.Seq) != ids[1] {
			t.Fatalf("lease after redrive: %s attempt %d", storage.MessageID(d.Message.Seq), d.Message.Attempts)
		}
		h.Settle("a", st.NackAfter(d.DeliveryID, 0))
	}
	// ...and it can be dead-lettered into the DLQ once more.
	rec := h.Record("a.dlq", ids[1])
	if rec.DeadLetter.GetReason() != "max_attempts" || rec.DeadLetter.GetAttempts() != 3 {
		t.Errorf("second dead-letter: %v", rec.DeadLetter)
	}
}

func TestRedriveOnNonDeadLetterQueueFails(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", true))
	h.PutQueue("plain", st.Config("plain", false))
	for _, tc := range []struct {
		queue string
		want  error
	}{
		{"a", storage.ErrNotDeadLetter},
		{"plain", storage.ErrNotDeadLetter},
		{"nope", storage.ErrQueueNotFound},
	} {
		res := adminCall{&pb.Redrive{Queue: tc.queue}}.run(h)
		st.WantErr(t, "redrive "+tc.queue, res.Err, tc.want)
	}
}

func TestReplayEnqueuesNewCopy(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", true))
	orig := h.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, Body: []byte("body"), ContentType: []byte("application/json"),
		EventId: "evt", Headers: []*pb.Header{{Name: "X-A", Value: []byte("1")}}}).MessageID
	d := h.LeaseOne("a")
	h.Settle("a", st.Ack(d.DeliveryID))
	h.Advance(time.Hour)
	res := adminCall{&pb.Replay{Queue: "a", MessageIds: []string{orig, orig, "zzz"}}}.run(h)
	if res.Err != nil || res.Count != 1 {
		t.Fatalf("replay: %+v, want 1", res)
	}
	h.WantStats("a", storage.Stats{Ready: 1, Acked: 1, Enqueued: 2, Delivered: 1})
	nd := h.LeaseOne("a")
	newID := storage.MessageID(nd.Message.Seq)
	m := nd.Message
	if newID == orig || newID < orig || m.ReplayOf != orig || m.ReceivedUnixNano != h.Now || string(nd.Body) != "body" ||
		m.EventId != "evt" || string(m.ContentType) != "application/json" || len(m.Headers) != 1 || m.Attempts != 1 {
		t.Errorf("replayed copy %s: %v body %q", newID, m, nd.Body)
	}
	if rec := h.Record("a", orig); rec.State != pb.MessageState_ACKED {
		t.Errorf("original changed: %v", rec)
	}
	st.WantErr(t, "replay into unknown queue", adminCall{&pb.Replay{Queue: "nope"}}.run(h).Err, storage.ErrQueueNotFound)
}

func TestReplayByReceivedRange(t *testing.T) {
	sec := func(n int) int64 { return st.T0 + int64(n)*int64(time.Second) }
	for _, tc := range []struct {
		name         string
		since, until int64
		want         []string
	}{
		{"unbounded", 0, 0, []string{"m0", "m10", "m20"}},
		{"since inclusive", sec(10), 0, []string{"m10", "m20"}},
		{"until exclusive", 0, sec(20), []string{"m0", "m10"}},
		{"both", sec(10), sec(20), []string{"m10"}},
		{"empty", sec(11), sec(20), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := st.New(t)
			h.PutQueue("a", st.Config("a", true))
			h.PutQueue("src", st.Config("src", true))
			for _, b := range []string{"m0", "m10", "m20"} {
				h.Publish(b, "src")
				h.Advance(10 * time.Second)
			}
			// One acked (kept for retention: replayable), one gone to the
			// DLQ (not replayable from src).
			d := h.LeaseOne("src")
			h.Settle("src", st.Ack(d.DeliveryID))
			h.Publish("dead", "src")
			for _, d := range h.Lease("src", 10, 0) {
				if string(d.Body) == "dead" {
					h.Settle("src", st.Reject(d.DeliveryID, ""))
				} else {
					h.Settle("src", st.NackAfter(d.DeliveryID, 0))
				}
			}
			res := adminCall{&pb.Replay{Queue: "src", SinceUnixNano: tc.since, UntilUnixNano: tc.until}}.run(h)
			if res.Err != nil || res.Count != int64(len(tc.want)) {
				t.Fatalf("replay: %+v, want %d", res, len(tc.want))
			}
			msgs, _, err := h.Store.Messages("src", "", 100, "", h.Now)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range msgs {
				if m.ReplayOf != "" {
					if m.ReceivedUnixNano != h.Now {
						t.Errorf("replay received at %d, want %d", m.ReceivedUnixNano, h.Now)
					}
					_, body, _ := h.Store.Message("src", storage.MessageID(m.Seq))
					got = append([]string{string(body)}, got...) // listing is newest first
				}
			}
			if !sameStrings(got, tc.want) {
				t.Errorf("replayed %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPurgeRemovesReadyDelayedAndInflight(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", true))
	for _, b := range []string{"acked", "delayed", "inflight", "lapsed", "ready"} {
		h.Publish(b, "a")
	}
	ds := h.Lease("a", 4, 0)
	h.Settle("a", st.Ack(ds[0].DeliveryID), st.NackAfter(ds[1].DeliveryID, time.Hour), st.Extend(ds[3].DeliveryID, time.Second))
	h.Advance(time.Second)
	h.WantStats("a", storage.Stats{Ready: 2, Inflight: 1, Delayed: 1, Acked: 1, Enqueued: 5, Delivered: 4, OldestReadyAgeNanos: int64(time.Second)})
	res := adminCall{&pb.Purge{Queue: "a"}}.run(h)
	if res.Err != nil || res.Count != 4 {
		t.Fatalf("purge: %+v, want 4", res)
	}
	h.WantStats("a", storage.Stats{Acked: 1, Enqueued: 5, Delivered: 4})
	h.WantStats("a.dlq", storage.Stats{})
	for _, d := range ds[1:] {
		st.WantErr(t, "ack purged "+string(d.Body), h.SettleOne("a", st.Ack(d.DeliveryID)), storage.ErrLeaseExpired)
	}
	if got := h.Lease("a", 10, 0); len(got) != 0 {
		t.Errorf("leased %v after purge", bodies(got))
	}
	if msgs, _, _ := h.Store.Messages("a", "", 10, "", h.Now); len(msgs) != 1 || storage.ViewState(msgs[0], h.Now) != storage.StateAcked {
		t.Errorf("after purge the queue lists %d messages, want the acked one", len(msgs))
	}
	st.WantErr(t, "purge unknown", adminCall{&pb.Purge{Queue: "nope"}}.run(h).Err, storage.ErrQueueNotFound)
}

func TestSweepCollectsAckedAfterRetention(t *testing.T) {
	h := st.New(t)
	cfg := st.Config("a", false)
	cfg.RetentionNanos = int64(time.Hour)
	h.PutQueue("a", cfg)
	acked := h.Publish("acked", "a")
	dropped := h.Publish("dropped", "a")
	kept := h.Publish("kept", "a")
	ds := h.Lease("a", 3, 0)
	h.Settle("a", st.Ack(ds[0].DeliveryID), st.Reject(ds[1].DeliveryID, ""), st.NackAfter(ds[2].DeliveryID, 2*time.Hour))
	h.Advance(time.Hour - 1)
	if n := h.Sweep().Count; n != 0 {
		t.Errorf("sweep inside retention handled %d", n)
	}
	h.WantStats("a", storage.Stats{Delayed: 1, Acked: 1, Enqueued: 3, Delivered: 3, DeadLettered: 1})
	h.Advance(1)
	if !h.Store.SweepDue(h.Now) {
		t.Errorf("SweepDue false at the end of retention")
	}
	if n := h.Sweep().Count; n != 2 { // the acked message and the tombstone
		t.Errorf("sweep at retention handled %d, want 2", n)
	}
	h.WantStats("a", storage.Stats{Delayed: 1, Enqueued: 3, Delivered: 3, DeadLettered: 1})
	if _, _, err := h.Store.Message("a", acked); err != storage.ErrMessageNotFound {
		t.Errorf("collected message: err %v, want ErrMessageNotFound", err)
	}
	if rec := h.Record("a", kept); rec.State != pb.MessageState_PENDING {
		t.Errorf("pending message touched by GC: %v", rec)
	}
	replay := adminCall{&pb.Replay{Queue: "a", MessageIds: []string{acked, dropped}}}
	if n := replay.run(h).Count; n != 0 {
		t.Errorf("replayed %d collected messages", n)
	}
	// Once collected, a delivery is simply unknown.
	st.WantErr(t, "ack of a collected delivery", h.SettleOne("a", st.Ack(ds[0].DeliveryID)), storage.ErrDeliveryNotFound)
}
