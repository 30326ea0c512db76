package storage

import (
	"bytes"
	"testing"

	pb "github.com/hookq/hookq/proto/raftcmd"
)

// The lease scan hints are raised past everything a queue had once it is
// all leased; a DeleteQueue, PutQueue and Enqueue of the same name in one
// transaction must still be found by the next Lease, and a message nacked
// with a delay must be leasable once the delay has passed.
func TestLeaseHintAfterRecreateAndDelayedNack(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	idx := uint64(0)
	apply := func(fn func(*Txn)) {
		idx++
		applyEntry(t, s, idx, fn)
	}
	rnd := func(b byte) [][]byte { return [][]byte{bytes.Repeat([]byte{b}, deliveryRandLen)} }
	lease := func(b byte) LeaseResult {
		var r LeaseResult
		apply(func(x *Txn) { r = x.Lease(&pb.Lease{Queue: "q", DeliveryRands: rnd(b)}) })
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		return r
	}
	enqueue := func(x *Txn) {
		if r := x.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"q"}, Body: []byte("b")}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	apply(func(x *Txn) {
		x.PutQueue(&pb.PutQueue{Name: "q", Config: DefaultQueueConfig("q")})
		enqueue(x)
	})
	if r := lease(1); len(r.Deliveries) != 1 {
		t.Fatalf("first lease: %d deliveries", len(r.Deliveries))
	}
	if r := lease(2); len(r.Deliveries) != 0 {
		t.Fatalf("lease of an all-leased queue: %d deliveries", len(r.Deliveries))
	}
	apply(func(x *Txn) {
		if r := x.DeleteQueue(&pb.DeleteQueue{Name: "q"}); r.Err != nil {
			t.Fatal(r.Err)
		}
		x.PutQueue(&pb.PutQueue{Name: "q", Config: DefaultQueueConfig("q")})
		enqueue(x)
	})
	r := lease(3)
	if len(r.Deliveries) != 1 {
		t.Fatalf("lease after recreate: %d deliveries, want the new message", len(r.Deliveries))
	}
	var sr SettleResult
	apply(func(x *Txn) {
		sr = x.Settle(&pb.Settle{Queue: "q", Items: []*pb.SettleItem{{DeliveryId: r.Deliveries[0].DeliveryID, Action: pb.SettleAction_NACK, HasDelay: true, DelayNanos: 5000}}})
	})
	if sr.Err != nil || len(sr.Items) != 1 || sr.Items[0].Err != nil {
		t.Fatalf("nack: %+v", sr)
	}
	if r := lease(4); len(r.Deliveries) != 0 { // entry time idx*1000: 1000ns later, the delay has not passed
		t.Fatalf("lease before the nack delay passed: %d deliveries", len(r.Deliveries))
	}
	idx += 10 // entry times move 10µs on
	if r := lease(5); len(r.Deliveries) != 1 {
		t.Fatalf("lease after the nack delay: %d deliveries, want the nacked message", len(r.Deliveries))
	}
}
