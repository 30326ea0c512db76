package broker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
)

func mustQueue(t testing.TB, b *broker.Broker, name string) {
	t.Helper()
	if _, err := b.PutQueue(context.Background(), name, broker.DefaultQueueConfig(name)); err != nil {
		t.Fatalf("put queue: %v", err)
	}
}

func TestEnqueueLeaseAckRoundTrip(t *testing.T) {
	b := brokertest.MustOpen(t)
	ctx := context.Background()
	mustQueue(t, b, "orders")
	res, err := b.Enqueue(ctx, broker.EnqueueRequest{Source: "s", Queues: []string{"orders"}, Body: []byte(`{"a":1}`), ContentType: []byte("application/json")})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	ds, err := b.Lease(ctx, "orders", broker.LeaseOptions{Max: 10})
	if err != nil || len(ds) != 1 {
		t.Fatalf("lease: %v, %d deliveries", err, len(ds))
	}
	if got := ds[0]; got.Message.ID == "" || string(got.Body) != `{"a":1}` || got.Message.Attempts != 1 {
		t.Fatalf("delivery = %+v", got)
	}
	if id := ds[0].Message.ID; id != res.MessageID {
		t.Fatalf("leased %s, enqueued %s", id, res.MessageID)
	}
	items := []broker.SettleItem{{DeliveryID: ds[0].DeliveryID, Action: broker.Ack}}
	out, err := b.Settle(ctx, "orders", items)
	if err != nil || out[0].Err != nil {
		t.Fatalf("ack: %v %v", err, out)
	}
	out, err = b.Settle(ctx, "orders", items)
	if err != nil || !errors.Is(out[0].Err, broker.ErrLeaseExpired) {
		t.Fatalf("second ack: %v %v, want lease expired", err, out)
	}
	q, err := b.Queue("orders")
	if err != nil {
		t.Fatal(err)
	}
	if q.Stats.Acked != 1 || q.Stats.Ready != 0 || q.Stats.Enqueued != 1 || q.Stats.Delivered != 1 {
		t.Fatalf("stats = %+v", q.Stats)
	}
}

func TestLongPollWakesOnEnqueue(t *testing.T) {
	b := brokertest.MustOpen(t)
	ctx := context.Background()
	mustQueue(t, b, "q")
	got := make(chan []broker.Delivery, 1)
	go func() {
		ds, _ := b.Lease(ctx, "q", broker.LeaseOptions{Max: 1, Wait: 20 * time.Second})
		got <- ds
	}()
	if _, err := b.Enqueue(ctx, broker.EnqueueRequest{Source: "s", Queues: []string{"q"}, Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	select {
	case ds := <-got:
		if len(ds) != 1 || string(ds[0].Body) != "x" {
			t.Fatalf("long poll got %d deliveries", len(ds))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("long poll was not woken by enqueue")
	}
}

func TestLongPollWakesWhenLeaseExpires(t *testing.T) {
	b := brokertest.MustOpen(t)
	ctx := context.Background()
	mustQueue(t, b, "q")
	if _, err := b.Enqueue(ctx, broker.EnqueueRequest{Source: "s", Queues: []string{"q"}, Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	first, err := b.Lease(ctx, "q", broker.LeaseOptions{Max: 1, Visibility: time.Second})
	if err != nil || len(first) != 1 {
		t.Fatalf("lease: %v %d", err, len(first))
	}
	again, err := b.Lease(ctx, "q", broker.LeaseOptions{Max: 1, Wait: 10 * time.Second})
	if err != nil || len(again) != 1 {
		t.Fatalf("re-lease after expiry: %v %d", err, len(again))
	}
	if again[0].Message.Attempts != 2 || again[0].DeliveryID == first[0].DeliveryID {
		t.Fatalf("redelivery attempt %d", again[0].Message.Attempts)
	}
}

func TestLongPollTimesOutEmpty(t *testing.T) {
	b := brokertest.MustOpen(t)
	mustQueue(t, b, "q")
	start := time.Now()
	ds, err := b.Lease(context.Background(), "q", broker.LeaseOptions{Max: 1, Wait: 300 * time.Millisecond})
	if err != nil || len(ds) != 0 {
		t.Fatalf("got %v %d", err, len(ds))
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("returned before wait elapsed")
	}
}

func TestLeaseUnknownQueue(t *testing.T) {
	b := brokertest.MustOpen(t)
	_, err := b.Lease(context.Background(), "nope", broker.LeaseOptions{Max: 1})
	if !errors.Is(err, broker.ErrQueueNotFound) {
		t.Fatalf("err = %v", err)
	}
}

func TestConcurrentEnqueuesAreBatchedAndAllDelivered(t *testing.T) {
	b := brokertest.MustOpen(t)
	ctx := context.Background()
	mustQueue(t, b, "q")
	const n = 400
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := b.Enqueue(ctx, broker.EnqueueRequest{Source: "s", Queues: []string{"q"}, Body: []byte(fmt.Sprint(i))})
			if err != nil {
				t.Errorf("enqueue %d: %v", i, err)
				return
			}
			ids <- r.MessageID
		}(i)
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	if len(want) != n {
		t.Fatalf("%d distinct ids, want %d", len(want), n)
	}
	if idx := b.Raft().LastIndex(); idx >= n {
		t.Logf("note: %d raft entries for %d enqueues (no batching happened)", idx, n)
	}
	for len(want) > 0 {
		ds, err := b.Lease(ctx, "q", broker.LeaseOptions{Max: 100})
		if err != nil || len(ds) == 0 {
			t.Fatalf("lease: %v, %d left", err, len(want))
		}
		for _, d := range ds {
			delete(want, d.Message.ID)
		}
	}
}
