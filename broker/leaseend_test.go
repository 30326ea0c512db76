package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
)

// A lease taken through a follower is committed by the leader before the
// follower has applied it: LeaseEnd on that follower must still call it
// live (a stream's window frees a slot on "not live", and would then send
// more than its credits allow).
func TestLeaseEndOnAFollowerSeesItsOwnLeases(t *testing.T) {
	nodes := brokertest.StartCluster(t, 3, nil)
	leader := brokertest.WaitClusterLeader(t, nodes, 10*time.Second)
	f := brokertest.Followers(nodes, leader)[0]
	ctx := context.Background()
	if _, err := leader.PutQueue(ctx, "q", broker.DefaultQueueConfig("q")); err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		if _, err := leader.Enqueue(ctx, broker.EnqueueRequest{Source: "s", Queues: []string{"q"}, Body: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		ds, err := f.Lease(ctx, "q", broker.LeaseOptions{Max: 1, Visibility: time.Minute})
		if err != nil || len(ds) != 1 {
			t.Fatalf("lease %d through the follower: %d deliveries, %v", i, len(ds), err)
		}
		end, live, err := f.LeaseEnd("q", ds[0].DeliveryID)
		if err != nil || !live || end.Before(time.Now()) {
			t.Fatalf("lease %d: LeaseEnd on the follower right after its lease = %v, live %v, %v", i, end, live, err)
		}
	}
}
