package storage_test

import (
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
)

func bodies(ds []storage.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.Body)
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLeaseTakesFirstAvailableByAvailableAtThenSeq(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.Publish("A", "a") // available at T0
	h.Advance(time.Second)
	h.Apply(func(tx *storage.Txn) { // B and C available at T0+1s, B first
		for _, b := range []string{"B", "C"} {
			tx.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, Body: []byte(b)})
		}
	})
	h.Advance(time.Second)
	a := h.Lease("a", 1, 5*time.Second) // A's lease ends at T0+7s
	if got := bodies(a); !sameStrings(got, []string{"A"}) {
		t.Fatalf("first lease = %v, want [A]", got)
	}
	h.Advance(time.Second)
	h.Publish("D", "a") // available at T0+3s
	h.Advance(7 * time.Second)
	h.Publish("E", "a") // available at T0+10s, after A's lapsed lease
	ds := h.Lease("a", 10, 0)
	if got, want := bodies(ds), []string{"B", "C", "D", "A", "E"}; !sameStrings(got, want) {
		t.Errorf("lease order = %v, want %v", got, want)
	}
	wantAttempt := map[string]uint32{"A": 2, "B": 1, "C": 1, "D": 1, "E": 1}
	seen := map[string]bool{}
	for _, d := range ds {
		if d.Message.Attempts != wantAttempt[string(d.Body)] {
			t.Errorf("%s: attempt %d, want %d", d.Body, d.Message.Attempts, wantAttempt[string(d.Body)])
		}
		if d.LeaseExpires != h.Now+int64(30*time.Second) {
			t.Errorf("%s: lease ends %d, want now+30s (the queue's visibility)", d.Body, d.LeaseExpires)
		}
		if seen[d.DeliveryID] {
			t.Errorf("deliveryId %s handed out twice", d.DeliveryID)
		}
		seen[d.DeliveryID] = true
	}
	h.WantStats("a", storage.Stats{Inflight: 5, Enqueued: 5, Delivered: 6})
	if more := h.Lease("a", 1, 0); len(more) != 0 {
		t.Errorf("leased %v from a queue with everything in flight", bodies(more))
	}
}

func TestDelayedMessageIsNotLeasedBeforeDue(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.Publish("late", "a")
	d := h.LeaseOne("a")
	st.WantErr(t, "nack", h.SettleOne("a", st.NackAfter(d.DeliveryID, 10*time.Second)), nil)
	h.Publish("early", "a")
	h.Advance(10*time.Second - 1)
	h.WantStats("a", storage.Stats{Ready: 1, Delayed: 1, Enqueued: 2, Delivered: 1, OldestReadyAgeNanos: int64(10*time.Second - 1)})
	if got := bodies(h.Lease("a", 2, 0)); !sameStrings(got, []string{"early"}) {
		t.Errorf("before due: leased %v, want [early]", got)
	}
	h.Advance(1)
	h.WantStats("a", storage.Stats{Ready: 1, Inflight: 1, Enqueued: 2, Delivered: 2})
	if got := bodies(h.Lease("a", 2, 0)); !sameStrings(got, []string{"late"}) {
		t.Errorf("at due: leased %v, want [late]", got)
	}
}

func TestAttemptCountsLeasesSoFar(t *testing.T) {
	h := st.New(t)
	cfg := st.Config("a", false)
	cfg.MaxAttempts = 0
	h.PutQueue("a", cfg)
	id := h.Publish("m", "a")
	seen := map[string]bool{}
	for want := uint32(1); want <= 4; want++ {
		d := h.LeaseOne("a")
		if d.Message.Attempts != want || storage.MessageID(d.Message.Seq) != id {
			t.Fatalf("lease %d: message %s attempt %d", want, storage.MessageID(d.Message.Seq), d.Message.Attempts)
		}
		if seen[d.DeliveryID] {
			t.Fatalf("deliveryId reused on attempt %d", want)
		}
		seen[d.DeliveryID] = true
		st.WantErr(t, "nack", h.SettleOne("a", st.NackAfter(d.DeliveryID, 0)), nil)
	}
	rec := h.Record("a", id)
	if rec.Attempts != 4 || len(rec.Deliveries) != 4 {
		t.Errorf("record: attempts %d, %d deliveries; want 4, 4", rec.Attempts, len(rec.Deliveries))
	}
	for i, dr := range rec.Deliveries {
		if dr.Attempt != uint32(i+1) || dr.Outcome != "nack" {
			t.Errorf("delivery %d: attempt %d outcome %q", i, dr.Attempt, dr.Outcome)
		}
	}
	h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 1, Delivered: 4})
}

func TestLeaseVisibility(t *testing.T) {
	for _, tc := range []struct {
		name string
		vis  time.Duration
		want time.Duration
	}{
		{"queue default", 0, 30 * time.Second},
		{"explicit", 90 * time.Second, 90 * time.Second},
		{"clamped to 12h", 13 * time.Hour, 12 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := st.New(t)
			h.PutQueue("a", st.Config("a", false))
			h.Publish("m", "a")
			ds := h.Lease("a", 1, tc.vis)
			if len(ds) != 1 || ds[0].LeaseExpires != h.Now+int64(tc.want) {
				t.Fatalf("lease ends %v, want now+%v", ds, tc.want)
			}
			h.Advance(tc.want - 1)
			h.WantStats("a", storage.Stats{Inflight: 1, Enqueued: 1, Delivered: 1})
			h.Advance(1)
			h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 1, Delivered: 1})
		})
	}
}

func TestLeaseOfUnknownQueueAnswersNotFound(t *testing.T) {
	h := st.New(t)
	res := h.LeaseOp("nope", 1, 0, false)
	st.WantErr(t, "lease", res.Err, storage.ErrQueueNotFound)
}

func TestAutoAckLeaseAcksAtDelivery(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	id := h.Publish("m", "a")
	h.Publish("n", "a")
	res := h.LeaseOp("a", 1, 0, true)
	if res.Err != nil || len(res.Deliveries) != 1 || string(res.Deliveries[0].Body) != "m" {
		t.Fatalf("auto-ack lease: %+v", res)
	}
	d := res.Deliveries[0]
	if d.Message.Attempts != 1 {
		t.Errorf("attempt %d, want 1", d.Message.Attempts)
	}
	if rec := h.Record("a", id); rec.State != pb.MessageState_ACKED || rec.AckedUnixNano != h.Now {
		t.Errorf("record after auto-ack: %v", rec)
	}
	h.WantStats("a", storage.Stats{Ready: 1, Acked: 1, Enqueued: 2, Delivered: 1})
	st.WantErr(t, "ack of an auto-acked delivery", h.SettleOne("a", st.Ack(d.DeliveryID)), storage.ErrLeaseExpired)
	h.Advance(time.Hour) // nothing comes back
	if got := bodies(h.Lease("a", 5, 0)); !sameStrings(got, []string{"n"}) {
		t.Errorf("after auto-ack: leased %v, want [n]", got)
	}
}

func TestExtendMovesLeaseEnd(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.Publish("m", "a")
	d := h.LeaseOne("a") // ends T0+30s
	h.Advance(20 * time.Second)
	r := h.Settle("a", st.Extend(d.DeliveryID, time.Minute))[0]
	if r.Err != nil || r.LeaseExpires != h.Now+int64(time.Minute) {
		t.Fatalf("extend: %+v, want end now+1m", r)
	}
	end := r.LeaseExpires
	h.Advance(30 * time.Second) // past the original end
	if ds := h.Lease("a", 1, 0); len(ds) != 0 {
		t.Errorf("leased at the original end of an extended lease")
	}
	h.WantStats("a", storage.Stats{Inflight: 1, Enqueued: 1, Delivered: 1})
	// Shortening is allowed too: the lease ends visibility from now.
	r = h.Settle("a", st.Extend(d.DeliveryID, time.Second))[0]
	if r.Err != nil || r.LeaseExpires != h.Now+int64(time.Second) || r.LeaseExpires >= end {
		t.Fatalf("shorten: %+v", r)
	}
	h.Advance(time.Second)
	h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 1, Delivered: 1})
	if ds := h.Lease("a", 1, 0); len(ds) != 1 || ds[0].Message.Attempts != 2 {
		t.Errorf("after the extended lease ended: %v", ds)
	}
}

func TestExtendIsClampedTo12hAfterLeaseBegan(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.Publish("m", "a")
	began := h.Now
	d := h.Lease("a", 1, 7*time.Hour)[0]
	for _, step := range []time.Duration{6 * time.Hour, 5 * time.Hour} {
		h.Advance(step)
		r := h.Settle("a", st.Extend(d.DeliveryID, 10*time.Hour))[0]
		if want := began + int64(12*time.Hour); r.Err != nil || r.LeaseExpires != want {
			t.Errorf("extend at +%v: %+v, want end %d (12h after the lease began)", step, r, want)
		}
	}
	h.Advance(time.Hour)
	st.WantErr(t, "extend at the 12h limit", h.SettleOne("a", st.Extend(d.DeliveryID, time.Hour)), storage.ErrLeaseExpired)
}

func TestExtendAfterExpiryAnswersLeaseExpired(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.Publish("m", "a")
	d := h.LeaseOne("a")
	h.Advance(30 * time.Second)
	st.WantErr(t, "extend", h.SettleOne("a", st.Extend(d.DeliveryID, time.Minute)), storage.ErrLeaseExpired)
	h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 1, Delivered: 1})
}

func TestExpiredLeaseIsAvailableAgainAtLeaseEnd(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	id := h.Publish("m", "a")
	d := h.Lease("a", 1, 10*time.Second)[0]
	h.Advance(10*time.Second - 1)
	h.WantStats("a", storage.Stats{Inflight: 1, Enqueued: 1, Delivered: 1})
	if msgs, _, _ := h.Store.Messages("a", storage.StateInflight, 10, "", h.Now); len(msgs) != 1 {
		t.Errorf("inflight listing before the end: %d messages", len(msgs))
	}
	h.Advance(5*time.Second + 1)
	// Ready since the lease end, 5s ago.
	h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 1, Delivered: 1, OldestReadyAgeNanos: int64(5 * time.Second)})
	if msgs, _, _ := h.Store.Messages("a", storage.StateReady, 10, "", h.Now); len(msgs) != 1 {
		t.Errorf("ready listing after the end: %d messages", len(msgs))
	}
	st.WantErr(t, "ack after expiry", h.SettleOne("a", st.Ack(d.DeliveryID)), storage.ErrLeaseExpired)
	d2 := h.LeaseOne("a")
	if d2.Message.Attempts != 2 || d2.DeliveryID == d.DeliveryID {
		t.Errorf("redelivery: attempt %d, id reused %v", d2.Message.Attempts, d2.DeliveryID == d.DeliveryID)
	}
	rec := h.Record("a", id)
	if first := rec.Deliveries[0]; first.Outcome != "expired" || first.SettledUnixNano != d.LeaseExpires {
		t.Errorf("first delivery: outcome %q settled %d, want expired at %d", first.Outcome, first.SettledUnixNano, d.LeaseExpires)
	}
}

func TestExpiryAtMaxAttemptsDeadLetters(t *testing.T) {
	for _, via := range []string{"lease", "sweep"} {
		t.Run(via, func(t *testing.T) {
			h := st.New(t)
			cfg := st.Config("a", true)
			cfg.MaxAttempts = 2
			h.PutQueue("a", cfg)
			id := h.Publish("m", "a")
			for i := 0; i < 2; i++ {
				d := h.LeaseOne("a")
				if storage.MessageID(d.Message.Seq) != id {
					t.Fatalf("lease %d got %s, want %s", i, storage.MessageID(d.Message.Seq), id)
				}
				h.Advance(30 * time.Second)
			}
			// n becomes available when m's second lease lapses; m sorts first.
			next := h.Publish("n", "a")
			// The lapsed lease at maxAttempts counts as ready until something
			// dead-letters it.
			h.WantStats("a", storage.Stats{Ready: 2, Enqueued: 2, Delivered: 2})
			switch via {
			case "lease":
				ds := h.Lease("a", 1, 0)
				if len(ds) != 1 || storage.MessageID(ds[0].Message.Seq) != next {
					t.Fatalf("lease after exhaustion: %v, want %s", ds, next)
				}
				h.WantStats("a", storage.Stats{Inflight: 1, Enqueued: 2, Delivered: 3, DeadLettered: 1})
			case "sweep":
				if n := h.Sweep().Count; n != 1 {
					t.Errorf("sweep handled %d, want 1", n)
				}
				h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 2, Delivered: 2, DeadLettered: 1})
			}
			rec := h.Record("a.dlq", id)
			dl := rec.DeadLetter
			if dl == nil || dl.OriginQueue != "a" || dl.Reason != "max_attempts" || dl.Attempts != 2 || dl.DeadUnixNano != h.Now {
				t.Errorf("deadLetter = %v, want {a max_attempts 2 %d}", dl, h.Now)
			}
			if _, _, err := h.Store.Message("a", id); err == nil {
				t.Errorf("dead-lettered message still readable in a")
			}
			h.WantStats("a.dlq", storage.Stats{Ready: 1, Enqueued: 1})
		})
	}
}

func TestSweepExpiresLeasesBelowMaxAttempts(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", true))
	id := h.Publish("m", "a")
	h.Lease("a", 1, 10*time.Second)
	h.Advance(10*time.Second - 1)
	if n := h.Sweep().Count; n != 0 {
		t.Errorf("sweep before the lease end handled %d", n)
	}
	h.Advance(1)
	if !h.Store.SweepDue(h.Now) {
		t.Errorf("SweepDue false at a lease end")
	}
	if n := h.Sweep().Count; n != 1 {
		t.Errorf("sweep at the lease end handled %d, want 1", n)
	}
	rec := h.Record("a", id)
	if rec.State != pb.MessageState_PENDING || rec.AvailableUnixNano != h.Now || rec.Deliveries[0].Outcome != "expired" {
		t.Errorf("after sweep: %v", rec)
	}
	h.WantStats("a", storage.Stats{Ready: 1, Enqueued: 1, Delivered: 1})
	h.WantStats("a.dlq", storage.Stats{})
}
