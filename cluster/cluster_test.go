package cluster_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/ingest"
)

// Every command type goes through the log; all replicas end byte-identical.
func TestClusterReplicatesEveryCommandType(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	nodes := brokertest.StartCluster(t, 3, nil)
	leader := brokertest.WaitClusterLeader(t, nodes, 10*time.Second)
	ctx := context.Background()
	b := leader.Broker
	mustQueue(t, b, "orders")
	if _, err := b.PutSource(ctx, "src", ingest.SourceConfig{Queues: []string{"orders"}, Verify: ingest.VerifyConfig{Type: "none"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateToken(ctx, "tok", []string{"consume:*"}); err != nil {
		t.Fatal(err)
	}
	ids := []string{brokertest.MustEnqueue(t, b, "orders", "a"), brokertest.MustEnqueue(t, b, "orders", "b"), brokertest.MustEnqueue(t, b, "orders", "c")}
	ds, err := b.Lease(ctx, "orders", broker.LeaseOptions{Max: 3})
	if err != nil || len(ds) != 3 {
		t.Fatalf("lease: %v %d", err, len(ds))
	}
	res, err := b.Settle(ctx, "orders", []broker.SettleItem{
		{DeliveryID: ds[0].DeliveryID, Action: broker.Ack},
		{DeliveryID: ds[1].DeliveryID, Action: broker.Reject, Reason: "bad"},
		{DeliveryID: ds[2].DeliveryID, Action: broker.Extend, Visibility: time.Minute},
	})
	if err != nil || res[0].Err != nil || res[1].Err != nil || res[2].Err != nil {
		t.Fatalf("settle: %v %+v", err, res)
	}
	if n, err := b.Redrive(ctx, "orders.dlq", nil); err != nil || n != 1 {
		t.Fatalf("redrive: %d %v", n, err)
	}
	if n, err := b.Replay(ctx, "orders", []string{ids[0]}, time.Time{}, time.Time{}); err != nil || n != 1 {
		t.Fatalf("replay: %d %v", n, err)
	}
	if n, err := b.Purge(ctx, "orders"); err != nil || n != 3 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if err := b.DeleteToken(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteSource(ctx, "src"); err != nil {
		t.Fatal(err)
	}
	mustQueue(t, b, "gone")
	if err := b.DeleteQueue(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitConverged(t, nodes, 10*time.Second)
	for _, n := range nodes {
		q, err := n.Queue("orders")
		if err != nil {
			t.Fatalf("%s: %v", n.NodeID(), err)
		}
		if q.Stats.Enqueued != 5 || q.Stats.Acked != 1 || q.Stats.DeadLettered != 1 {
			t.Fatalf("%s stats = %+v", n.NodeID(), q.Stats)
		}
	}
}

// Any voter accepts enqueue, lease and settle and forwards to the leader.
func TestFollowerForwardsToLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	nodes := brokertest.StartCluster(t, 3, nil)
	leader := brokertest.WaitClusterLeader(t, nodes, 10*time.Second)
	f := brokertest.Followers(nodes, leader)[0]
	ctx := context.Background()
	// The follower must have heard from the new leader first (right after
	// the election it may not know it yet, and then answers unavailable).
	readyBy := time.Now().Add(10 * time.Second)
	for !f.Ready() {
		if time.Now().After(readyBy) {
			t.Fatal("the follower never heard from the leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustQueue(t, leader.Broker, "q")
	// A lease on a follower right after the queue was created elsewhere is
	// decided by the leader, not refused on the follower's lagging state.
	if _, err := f.Lease(ctx, "q", broker.LeaseOptions{Max: 1}); err != nil {
		t.Fatalf("lease via follower right after create: %v", err)
	}
	if _, err := f.Lease(ctx, "never-made", broker.LeaseOptions{Max: 1}); !errors.Is(err, broker.ErrQueueNotFound) {
		t.Fatalf("lease of an unknown queue via follower: %v, want not found", err)
	}
	id := brokertest.MustEnqueue(t, f.Broker, "q", "via follower")
	// The follower leases once it has replicated the message.
	ds, err := f.Lease(ctx, "q", broker.LeaseOptions{Max: 1, Wait: 5 * time.Second})
	if err != nil || len(ds) != 1 {
		t.Fatalf("lease via follower: %v %d", err, len(ds))
	}
	if got := ds[0].Message.ID; got != id || string(ds[0].Body) != "via follower" {
		t.Fatalf("leased %s %q, want %s", got, ds[0].Body, id)
	}
	res, err := f.Settle(ctx, "q", []broker.SettleItem{{DeliveryID: ds[0].DeliveryID, Action: broker.Ack}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("ack via follower: %v %+v", err, res)
	}
	res, err = f.Settle(ctx, "q", []broker.SettleItem{{DeliveryID: ds[0].DeliveryID, Action: broker.Ack}})
	if err != nil || !errors.Is(res[0].Err, broker.ErrLeaseExpired) {
		t.Fatalf("second ack via follower: %v %+v, want lease expired", err, res)
	}
	if _, err := f.PutQueue(ctx, "made-on-follower", broker.DefaultQueueConfig("made-on-follower")); err != nil {
		t.Fatalf("admin via follower: %v", err)
	}
	// Read-your-writes on the forwarding node: visible there at once.
	if _, err := f.Queue("made-on-follower"); err != nil {
		t.Fatalf("follower does not see its own forwarded write: %v", err)
	}
	// The follower reports the leader's view of the cluster.
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := f.Cluster()
		healthy := 0
		for _, n := range info.Nodes {
			if n.Healthy && n.AppliedIndex > 0 {
				healthy++
			}
		}
		if err == nil && info.Leader == leader.NodeID() && healthy == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster via follower: %v %+v", err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	brokertest.WaitConverged(t, nodes, 10*time.Second)
	q, err := leader.Queue("q")
	if err != nil || q.Stats.Acked != 1 {
		t.Fatalf("leader stats: %v %+v", err, q.Stats)
	}
}

// A leader cut off from the others steps down; writes it accepted answer
// unavailable, the majority elects a new leader and keeps serving, and
// after healing every node converges to the same state.
func TestPartitionedLeaderStepsDownAndHealConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	nodes := brokertest.StartCluster(t, 3, nil)
	old := brokertest.WaitClusterLeader(t, nodes, 10*time.Second)
	mustQueue(t, old.Broker, "q")
	before := brokertest.MustEnqueue(t, old.Broker, "q", "before")
	ctx := context.Background()

	old.Partition(true)
	// A write on the cut-off leader must not succeed.
	wctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	_, err := old.Enqueue(wctx, broker.EnqueueRequest{Source: "s", Queues: []string{"q"}, Body: []byte("lost?")})
	cancel()
	if err == nil {
		t.Fatal("partitioned leader acknowledged a write")
	}
	if !errors.Is(err, broker.ErrUnavailable) && !errors.Is(err, broker.ErrNotLeader) {
		t.Fatalf("partitioned leader write error = %v, want unavailable/not leader", err)
	}
	rest := brokertest.Followers(nodes, old)
	leader := brokertest.WaitClusterLeader(t, rest, 15*time.Second)
	after := brokertest.MustEnqueue(t, leader.Broker, "q", "after")
	deadline := time.Now().Add(10 * time.Second)
	for old.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("partitioned leader did not step down")
		}
		time.Sleep(20 * time.Millisecond)
	}

	old.Partition(false)
	brokertest.WaitConverged(t, nodes, 20*time.Second)
	// Both acknowledged messages are on every node.
	for _, n := range nodes {
		for _, id := range []string{before, after} {
			if _, _, err := n.Message("q", id); err != nil {
				t.Fatalf("%s lacks %s: %v", n.NodeID(), id, err)
			}
		}
	}
}

// A fresh node joins, catches up through a snapshot install (the leader's
// log is truncated first), serves reads; a removed node stops being a voter.
func TestJoinCatchesUpBySnapshotAndRemoveDropsVoter(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	small := func(c *broker.Config) {
		c.Raft.SnapshotThreshold = 16
		c.Raft.TrailingLogs = 4
	}
	nodes := brokertest.StartCluster(t, 3, small)
	leader := brokertest.WaitClusterLeader(t, nodes, 10*time.Second)
	mustQueue(t, leader.Broker, "q")
	for i := 0; i < 50; i++ {
		brokertest.MustEnqueue(t, leader.Broker, "q", strconv.Itoa(i))
	}
	if err := leader.Raft().Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	joiner := brokertest.StartJoiner(t, "n4", small)
	if err := nodes[0].Join(context.Background(), broker.Node{
		ID: "n4", RaftAddr: joiner.Cfg.RaftAddr, HTTPAddr: joiner.Self.HTTPAddr, GRPCAddr: joiner.Self.GRPCAddr,
	}); err != nil {
		t.Fatalf("join: %v", err)
	}
	all := append(append([]*brokertest.Node(nil), nodes...), joiner)
	brokertest.WaitConverged(t, all, 20*time.Second)
	if idx := joiner.Raft().Stats()["last_snapshot_index"]; idx == "0" || idx == "" {
		t.Fatalf("joiner did not install a snapshot (last_snapshot_index %q)", idx)
	}
	q, err := joiner.Queue("q")
	if err != nil || q.Stats.Ready != 50 {
		t.Fatalf("joiner reads: %v %+v", err, q.Stats)
	}
	info, err := leader.Cluster()
	if err != nil || len(info.Nodes) != 4 {
		t.Fatalf("cluster: %v %+v", err, info)
	}

	if err := joiner.RemoveNode(context.Background(), "n4"); err != nil {
		t.Fatalf("remove: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err = leader.Cluster()
		found := false
		for _, n := range info.Nodes {
			found = found || n.ID == "n4"
		}
		if err == nil && !found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n4 still listed after removal: %+v", info.Nodes)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
