package storage_test

import (
	"fmt"
	"testing"
	"time"

	st "github.com/hookq/hookq/storage/storagetest"
)

// With more queues than one SweepDue call looks at, successive calls go
// round all of them: a lapsed lease in the last queue is found within a
// round, and once swept no call reports work.
func TestSweepDueGoesRoundManyQueues(t *testing.T) {
	h := st.New(t)
	const n = 600
	for i := range n {
		q := fmt.Sprintf("q%03d", i)
		h.PutQueue(q, st.Config(q, false))
	}
	h.Publish("x", "q599")
	h.Lease("q599", 1, time.Second)
	for range 4 {
		if h.Store.SweepDue(h.Now) {
			t.Fatal("SweepDue before any lease lapsed")
		}
	}
	h.Advance(2 * time.Second)
	found := false
	for range 3 { // ceil(600 / 256) calls make a round
		if h.Store.SweepDue(h.Now) {
			found = true
			break
		}
	}
	if !found {
		t.Fatal("a lapsed lease in the last of 600 queues was not found within one round of SweepDue calls")
	}
	if !h.Store.SweepDue(h.Now) {
		t.Fatal("the queue found due was not looked at again first")
	}
	if res := h.Sweep(); res.Err != nil || res.Count != 1 {
		t.Fatalf("sweep = %+v, want 1 item", res)
	}
	for range 4 {
		if h.Store.SweepDue(h.Now) {
			t.Fatal("SweepDue after everything was swept")
		}
	}
}

func TestIsDeadLetterQueueFromMemory(t *testing.T) {
	h := st.New(t)
	h.PutQueue("orders", st.Config("orders", true)) // creates orders.dlq
	h.PutQueue("plain", st.Config("plain", false))
	if !h.Store.IsDeadLetterQueue("orders.dlq") {
		t.Error("orders.dlq is orders' dead-letter queue")
	}
	for _, q := range []string{"orders", "plain", "missing"} {
		if h.Store.IsDeadLetterQueue(q) {
			t.Errorf("IsDeadLetterQueue(%s) = true", q)
		}
	}
}
