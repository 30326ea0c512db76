package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
)

// A local node (no Raft) keeps the broker's semantics: a long poll wakes
// on the enqueue that feeds it, settles apply, and it has no cluster side.
func TestLocalNodeWakesLongPollsAndSettles(t *testing.T) {
	b := brokertest.NewFake(t)
	if !b.IsLeader() || !b.Ready() {
		t.Fatal("a local node leads and is ready from the start")
	}
	mustQueue(t, b, "q")
	ctx := context.Background()
	got := make(chan []broker.Delivery, 1)
	go func() {
		ds, err := b.Lease(ctx, "q", broker.LeaseOptions{Max: 1, Wait: 10 * time.Second})
		if err != nil {
			t.Error(err)
		}
		got <- ds
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	id := brokertest.MustEnqueue(t, b, "q", "hello")
	ds := <-got
	if len(ds) != 1 || ds[0].Message.ID != id || string(ds[0].Body) != "hello" {
		t.Fatalf("lease = %+v, want message %s", ds, id)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("the long poll woke after %v", waited)
	}
	res, err := b.Settle(ctx, "q", []broker.SettleItem{{DeliveryID: ds[0].DeliveryID, Action: broker.Ack}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("ack: %v %+v", err, res)
	}
	if qi, err := b.Queue("q"); err != nil || qi.Stats.Acked != 1 || qi.Stats.Inflight != 0 {
		t.Fatalf("queue after ack: %+v %v", qi.Stats, err)
	}
	if _, err := b.Cluster(); !errors.Is(err, broker.ErrNotLeader) {
		t.Fatalf("Cluster() = %v, want ErrNotLeader (no cluster side)", err)
	}
}
