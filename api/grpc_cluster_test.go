package api_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/broker/brokertest"
	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// On a follower every RPC works (leases and settlements go to the
// leader); a Consume stream there survives the leader's loss, handling
// every message published at least once; once the follower is left
// without a quorum, calls answer Unavailable, health turns NOT_SERVING
// and the open stream ends with Unavailable so its client reconnects;
// with the quorum back, health is SERVING again.
func TestGRPCFollowerLeaderChangeAndNoQuorum(t *testing.T) {
	if testing.Short() {
		t.Skip("three-node cluster")
	}
	nodes := brokertest.StartCluster(t, 3, nil)
	leader := brokertest.WaitClusterLeader(t, nodes, 15*time.Second)
	fs := brokertest.Followers(nodes, leader)
	f, other := fs[0], fs[1]
	e := grpcEnvOn(t, apitest.Serve(t, f.Broker))
	e.Queue(t, "orders", nil)
	waitFor(t, 10*time.Second, "the follower applies the queue", func() bool {
		_, err := f.Queue("orders")
		return err == nil
	})

	// Unary calls on the follower.
	ids := e.publish("orders", "u1")
	ds := e.lease("orders", 1, 5*time.Second, 0)
	if len(ds) != 1 || ds[0].Meta.MessageId != ids[0] {
		t.Fatalf("lease on the follower: %v", ds)
	}
	resp, err := e.cons.Settle(asT(t, e.AdminToken, 5*time.Second), &hookqv1.SettleRequest{Queue: "orders", Acks: []string{ds[0].Meta.DeliveryId}})
	if err != nil || resp.Results[0].Status != hookqv1.SettleStatus_SETTLE_OK {
		t.Fatalf("settle on the follower: %v %v", resp, err)
	}

	// A stream on the follower, acking what it gets, while messages are
	// published (through the follower) before and after the leader dies.
	c := e.consume(t, e.AdminToken, "orders", 4, 2*time.Second)
	published := map[string]bool{}
	publishRetrying := func(body string) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			r, err := e.pub.Publish(asT(t, e.AdminToken, 5*time.Second), &hookqv1.PublishRequest{Queue: "orders", Messages: []*hookqv1.Message{{Body: []byte(body), EventId: body}}})
			if err == nil {
				published[r.MessageIds[0]] = true
				return
			}
			if time.Now().After(deadline) || status.Code(err) != codes.Unavailable {
				t.Fatalf("publish %s: %v", body, err)
			}
			time.Sleep(100 * time.Millisecond) // retry pacing, not synchronisation
		}
	}
	handled := map[string]int{}
	handle := func(n int) {
		for range n {
			d := c.recv()
			handled[d.Meta.MessageId]++
			c.ackOnStream(d.Meta.DeliveryId)
		}
	}
	for i := range 5 {
		publishRetrying(fmt.Sprintf("before-%d", i))
	}
	handle(5)
	leader.Stop()
	for i := range 5 {
		publishRetrying(fmt.Sprintf("after-%d", i))
	}
	for missing := 1; missing > 0; {
		handle(1)
		missing = 0
		for id := range published {
			if handled[id] == 0 {
				missing++
			}
		}
	}
	dups := 0
	for _, n := range handled {
		dups += n - 1
	}
	t.Logf("%d messages handled across the leader change, %d redeliveries", len(published), dups)

	// No quorum: the follower is alone.
	other.Stop()
	waitFor(t, 15*time.Second, "health NOT_SERVING", func() bool {
		r, err := healthpb.NewHealthClient(e.conn).Check(asT(t, "", 2*time.Second), &healthpb.HealthCheckRequest{})
		return err == nil && r.Status == healthpb.HealthCheckResponse_NOT_SERVING
	})
	// (A leader that just lost its quorum may answer an empty lease until
	// its leader lease runs out.)
	waitFor(t, 10*time.Second, "Lease answers Unavailable", func() bool {
		_, err = e.cons.Lease(asT(t, e.AdminToken, 10*time.Second), &hookqv1.LeaseRequest{Queue: "orders"})
		return status.Code(err) == codes.Unavailable
	})
	wantCode(t, err, codes.Unavailable)
	_, err = e.pub.Publish(asT(t, e.AdminToken, 20*time.Second), &hookqv1.PublishRequest{Queue: "orders", Messages: []*hookqv1.Message{{Body: []byte("lost?")}}})
	wantCode(t, err, codes.Unavailable)
	wantCode(t, consumeStartErr(t, e, e.AdminToken, "orders"), codes.Unavailable)
	// The open stream gives up after its grace and ends Unavailable.
	for err = nil; err == nil; {
		var d *hookqv1.Delivery
		if d, err = c.st.Recv(); err == nil {
			c.ackOnStream(d.Meta.DeliveryId) // a redelivery still in flight
		}
	}
	t.Logf("stream ended: %v", err)
	wantCode(t, err, codes.Unavailable)

	// The quorum comes back: health turns SERVING again and a new stream
	// gets the message published before.
	other.Restart(t)
	waitFor(t, 20*time.Second, "health SERVING again", func() bool {
		r, err := healthpb.NewHealthClient(e.conn).Check(asT(t, "", 2*time.Second), &healthpb.HealthCheckRequest{})
		return err == nil && r.Status == healthpb.HealthCheckResponse_SERVING
	})
	e.publish("orders", "back")
	c = e.consume(t, e.AdminToken, "orders", 1, 0)
	for {
		d := c.recv()
		if string(d.Payload) == "back" {
			break
		}
		// A redelivery of one whose ack was lost with the leader.
		if handled[d.Meta.MessageId] == 0 {
			t.Fatalf("after the quorum came back got %q, never published", d.Payload)
		}
		c.ackOnStream(d.Meta.DeliveryId)
	}
}

// waitFor polls cond until it holds or the test fails after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
