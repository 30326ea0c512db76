package storage_test

import (
	"encoding/base64"
	"encoding/binary"
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
	"google.golang.org/protobuf/proto"
)

func TestAckEndsLease(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", true))
	id := h.Publish("m", "a")
	d := h.LeaseOne("a")
	h.Advance(time.Second)
	st.WantErr(t, "ack", h.SettleOne("a", st.Ack(d.DeliveryID)), nil)
	rec := h.Record("a", id)
	if rec.State != pb.MessageState_ACKED || rec.AckedUnixNano != h.Now {
		t.Errorf("record after ack: state %v acked at %d", rec.State, rec.AckedUnixNano)
	}
	if last := rec.Deliveries[0]; last.Outcome != "ack" || last.SettledUnixNano != h.Now || last.LeasedUnixNano != h.Now-int64(time.Second) {
		t.Errorf("delivery record: %v", last)
	}
	h.WantStats("a", storage.Stats{Acked: 1, Enqueued: 1, Delivered: 1})
	h.Advance(time.Hour) // well past the old lease end
	if ds := h.Lease("a", 1, 0); len(ds) != 0 {
		t.Errorf("acked message leased again")
	}
	if msgs, _, _ := h.Store.Messages("a", storage.StateAcked, 10, "", h.Now); len(msgs) != 1 {
		t.Errorf("acked listing: %d messages, want 1", len(msgs))
	}
}

// TestSettleStaleDeliveryAnswersLeaseExpired: settling a delivery whose
// lease has ended, or that was already settled, answers lease_expired and
// changes nothing.
func TestSettleStaleDeliveryAnswersLeaseExpired(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup leases the message and returns the stale delivery.
		setup  func(h *st.Harness) string
		settle func(id string) *pb.SettleItem
	}{
		{"double ack", func(h *st.Harness) string {
			d := h.LeaseOne("a")
			h.Settle("a", st.Ack(d.DeliveryID))
			return d.DeliveryID
		}, st.Ack},
		{"ack after expiry", func(h *st.Harness) string {
			d := h.LeaseOne("a")
			h.Advance(30 * time.Second)
			return d.DeliveryID
		}, st.Ack},
		{"nack after expiry", func(h *st.Harness) string {
			d := h.LeaseOne("a")
			h.Advance(31 * time.Second)
			return d.DeliveryID
		}, st.Nack},
		{"reject after nack", func(h *st.Harness) string {
			d := h.LeaseOne("a")
			h.Settle("a", st.NackAfter(d.DeliveryID, time.Minute))
			return d.DeliveryID
		}, func(id string) *pb.SettleItem { return st.Reject(id, "") }},
		{"extend after ack", func(h *st.Harness) string {
			d := h.LeaseOne("a")
			h.Settle("a", st.Ack(d.DeliveryID))
			return d.DeliveryID
		}, func(id string) *pb.SettleItem { return st.Extend(id, time.Minute) }},
		{"ack of an earlier attempt while redelivered", func(h *st.Harness) string {
			d := h.LeaseOne("a")
			h.Settle("a", st.NackAfter(d.DeliveryID, 0))
			h.LeaseOne("a")
			return d.DeliveryID
		}, st.Ack},
		{"ack after reject", func(h *st.Harness) string {
			d := h.LeaseOne("a")
			h.Settle("a", st.Reject(d.DeliveryID, ""))
			return d.DeliveryID
		}, st.Ack},
		{"ack after purge", func(h *st.Harness) string {
			d := h.LeaseOne("a")
			h.Apply(func(tx *storage.Txn) { tx.Purge(&pb.Purge{Queue: "a"}) })
			return d.DeliveryID
		}, st.Ack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := st.New(t)
			h.PutQueue("a", st.Config("a", true))
			id := h.Publish("m", "a")
			h.Publish("other", "a")
			stale := tc.setup(h)
			before := map[string]storage.Stats{"a": h.Stats("a"), "a.dlq": h.Stats("a.dlq")}
			recBefore, _, _ := h.Store.Message("a", id)
			st.WantErr(t, "settle", h.SettleOne("a", tc.settle(stale)), storage.ErrLeaseExpired)
			for q, want := range before {
				h.WantStats(q, want)
			}
			recAfter, _, _ := h.Store.Message("a", id)
			if !proto.Equal(recBefore, recAfter) {
				t.Errorf("stale settle changed the record:\n%v\n%v", recBefore, recAfter)
			}
		})
	}
}

func TestSettleUnknownDeliveryAnswersNotFound(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.PutQueue("b", st.Config("b", false))
	h.Publish("m", "a", "b")
	d := h.LeaseOne("a")
	raw, err := base64.RawURLEncoding.DecodeString(d.DeliveryID)
	if err != nil {
		t.Fatalf("deliveryId %q is not base64url: %v", d.DeliveryID, err)
	}
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	unknownSeq := append([]byte(nil), raw...)
	binary.BigEndian.PutUint64(unknownSeq, 1<<40)
	for _, tc := range []struct{ name, queue, id string }{
		{"empty", "a", ""},
		{"garbage", "a", "not-a-delivery!"},
		{"short", "a", d.DeliveryID[:10]},
		{"random part changed", "a", flip(len(raw) - 1)},
		{"unknown message", "a", base64.RawURLEncoding.EncodeToString(unknownSeq)},
		{"other queue's copy", "b", d.DeliveryID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, it := range []*pb.SettleItem{st.Ack(tc.id), st.Nack(tc.id), st.Reject(tc.id, ""), st.Extend(tc.id, time.Minute)} {
				st.WantErr(t, it.Action.String(), h.SettleOne(tc.queue, it), storage.ErrDeliveryNotFound)
			}
		})
	}
	h.WantStats("a", storage.Stats{Inflight: 1, Enqueued: 1, Delivered: 1})
	h.WantStats("b", storage.Stats{Ready: 1, Enqueued: 1})
	var res storage.SettleResult
	h.Apply(func(tx *storage.Txn) {
		res = tx.Settle(&pb.Settle{Queue: "nope", Items: []*pb.SettleItem{st.Ack(d.DeliveryID)}})
	})
	st.WantErr(t, "settle on unknown queue", res.Err, storage.ErrQueueNotFound)
}

func TestNackWithDelay(t *testing.T) {
	for _, delay := range []time.Duration{0, 10 * time.Second, 12 * time.Hour} {
		t.Run(delay.String(), func(t *testing.T) {
			h := st.New(t)
			h.PutQueue("a", st.Config("a", true))
			h.Publish("m", "a")
			d := h.LeaseOne("a")
			h.Advance(time.Second)
			st.WantErr(t, "nack", h.SettleOne("a", st.NackAfter(d.DeliveryID, delay)), nil)
			if delay > 0 {
				h.WantStats("a", storage.Stats{Delayed: 1, Enqueued: 1, Delivered: 1})
				h.Advance(delay - 1)
				if ds := h.Lease("a", 1, 0); len(ds) != 0 {
					t.Fatalf("leased 1ns before the delay ran out")
				}
				h.Advance(1)
			}
			h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 1, Delivered: 1})
			if d2 := h.LeaseOne("a"); d2.Message.Attempts != 2 {
				t.Errorf("attempt %d, want 2", d2.Message.Attempts)
			}
		})
	}
}

func TestNackUsesBackoffByAttemptLastEntryRepeating(t *testing.T) {
	h := st.New(t)
	cfg := st.Config("a", true)
	cfg.MaxAttempts = 0
	cfg.BackoffNanos = []int64{int64(time.Second), int64(7 * time.Second), int64(time.Minute)}
	h.PutQueue("a", cfg)
	id := h.Publish("m", "a")
	for attempt, want := range []time.Duration{time.Second, 7 * time.Second, time.Minute, time.Minute, time.Minute} {
		d := h.LeaseOne("a")
		if d.Message.Attempts != uint32(attempt+1) {
			t.Fatalf("attempt %d, want %d", d.Message.Attempts, attempt+1)
		}
		st.WantErr(t, "nack", h.SettleOne("a", st.Nack(d.DeliveryID)), nil)
		if rec := h.Record("a", id); rec.AvailableUnixNano != h.Now+int64(want) {
			t.Errorf("after attempt %d: available in %v, want %v", attempt+1, time.Duration(rec.AvailableUnixNano-h.Now), want)
		}
		h.Advance(want)
	}
	h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 1, Delivered: 5})

	// No backoff configured: available at once.
	cfg.BackoffNanos = nil
	h.PutQueue("a", cfg)
	d := h.LeaseOne("a")
	h.Settle("a", st.Nack(d.DeliveryID))
	h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 1, Delivered: 6})
}

func TestNackPastMaxAttemptsDeadLetters(t *testing.T) {
	h := st.New(t)
	cfg := st.Config("a", true)
	cfg.MaxAttempts = 2
	h.PutQueue("a", cfg)
	received := h.Now
	id := h.Publish("payload", "a")
	d := h.LeaseOne("a")
	h.Settle("a", st.NackAfter(d.DeliveryID, 0))
	h.Advance(time.Second)
	d = h.LeaseOne("a")
	h.Advance(time.Second)
	st.WantErr(t, "nack at maxAttempts", h.SettleOne("a", st.NackAfter(d.DeliveryID, 0)), nil)

	h.WantStats("a", storage.Stats{Enqueued: 1, Delivered: 2, DeadLettered: 1})
	h.WantStats("a.dlq", storage.Stats{Ready: 1, Enqueued: 1})
	if _, _, err := h.Store.Message("a", id); err == nil {
		t.Errorf("message still in a")
	}
	rec, body, err := h.Store.Message("a.dlq", id)
	if err != nil {
		t.Fatalf("message in DLQ: %v", err)
	}
	want := &pb.DeadLetterInfo{OriginQueue: "a", Reason: "max_attempts", Attempts: 2, DeadUnixNano: h.Now}
	if !proto.Equal(rec.DeadLetter, want) || string(body) != "payload" || rec.ReceivedUnixNano != received || rec.Attempts != 0 {
		t.Errorf("DLQ record %v body %q; want deadLetter %v, same body, receivedAt, attempts 0", rec, body, want)
	}
	st.WantErr(t, "ack of the dead-lettered delivery", h.SettleOne("a", st.Ack(d.DeliveryID)), storage.ErrLeaseExpired)

	// In the DLQ attempts start again and never dead-letter (maxAttempts 0).
	for attempt := uint32(1); attempt <= 3; attempt++ {
		dd := h.LeaseOne("a.dlq")
		if storage.MessageID(dd.Message.Seq) != id || dd.Message.Attempts != attempt || dd.Message.DeadLetter.GetOriginQueue() != "a" {
			t.Fatalf("DLQ lease %d: %s attempt %d", attempt, storage.MessageID(dd.Message.Seq), dd.Message.Attempts)
		}
		h.Settle("a.dlq", st.NackAfter(dd.DeliveryID, 0))
	}
	h.WantStats("a.dlq", storage.Stats{Ready: 1, Enqueued: 1, Delivered: 3})
	h.WantStats("a", storage.Stats{Enqueued: 1, Delivered: 2, DeadLettered: 1})
}

func TestRejectDeadLettersNow(t *testing.T) {
	for _, tc := range []struct{ reason, want string }{
		{"", "rejected"},
		{"schema mismatch", "schema mismatch"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			h := st.New(t)
			h.PutQueue("a", st.Config("a", true)) // maxAttempts 5: reject ignores it
			id := h.Publish("m", "a")
			d := h.LeaseOne("a")
			st.WantErr(t, "reject", h.SettleOne("a", st.Reject(d.DeliveryID, tc.reason)), nil)
			h.WantStats("a", storage.Stats{Enqueued: 1, Delivered: 1, DeadLettered: 1})
			h.WantStats("a.dlq", storage.Stats{Ready: 1, Enqueued: 1})
			rec := h.Record("a.dlq", id)
			want := &pb.DeadLetterInfo{OriginQueue: "a", Reason: tc.want, Attempts: 1, DeadUnixNano: h.Now}
			if !proto.Equal(rec.DeadLetter, want) {
				t.Errorf("deadLetter = %v, want %v", rec.DeadLetter, want)
			}
		})
	}
}

func TestDeadLetterQueueEmptyDropsMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		settle func(id string) *pb.SettleItem
	}{
		{"reject", func(id string) *pb.SettleItem { return st.Reject(id, "") }},
		{"nack at maxAttempts", st.Nack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := st.New(t)
			cfg := st.Config("a", false)
			cfg.MaxAttempts = 1
			h.PutQueue("a", cfg)
			id := h.Publish("m", "a")
			d := h.LeaseOne("a")
			st.WantErr(t, tc.name, h.SettleOne("a", tc.settle(d.DeliveryID)), nil)
			h.WantStats("a", storage.Stats{Enqueued: 1, Delivered: 1, DeadLettered: 1})
			infos, err := h.Store.Queues(h.Now)
			if err != nil || len(infos) != 1 {
				t.Fatalf("queues = %v, %v; want only a", infos, err)
			}
			if _, _, err := h.Store.Message("a", id); err == nil {
				t.Errorf("dropped message still readable")
			}
			st.WantErr(t, "settle the dropped delivery", h.SettleOne("a", st.Ack(d.DeliveryID)), storage.ErrLeaseExpired)
		})
	}
}

func TestSettleAppliesItemsInOrder(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", true))
	for _, b := range []string{"1", "2", "3", "4"} {
		h.Publish(b, "a")
	}
	ds := h.Lease("a", 4, 0)
	res := h.Settle("a",
		st.Ack(ds[0].DeliveryID),
		st.Ack(ds[0].DeliveryID), // second time in the same batch: stale
		st.NackAfter(ds[1].DeliveryID, time.Minute),
		st.Reject(ds[2].DeliveryID, "bad"),
		st.Extend(ds[3].DeliveryID, time.Hour),
		st.Ack("garbage"),
	)
	want := []error{nil, storage.ErrLeaseExpired, nil, nil, nil, storage.ErrDeliveryNotFound}
	for i, r := range res {
		st.WantErr(t, "item "+r.DeliveryID, r.Err, want[i])
	}
	if res[4].LeaseExpires != h.Now+int64(time.Hour) {
		t.Errorf("extend item: lease ends %d, want now+1h", res[4].LeaseExpires)
	}
	h.WantStats("a", storage.Stats{Inflight: 1, Delayed: 1, Acked: 1, Enqueued: 4, Delivered: 4, DeadLettered: 1})
	h.WantStats("a.dlq", storage.Stats{Ready: 1, Enqueued: 1})
}
