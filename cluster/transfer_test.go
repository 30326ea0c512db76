package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
)

// TransferLeadership with a target hands the office to that voter, asked
// through a follower; naming the leader changes nothing; a node that is
// not a voter is not found.
func TestTransferLeadershipToANamedVoter(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	nodes := brokertest.StartCluster(t, 3, nil)
	leader := brokertest.WaitClusterLeader(t, nodes, 10*time.Second)
	followers := brokertest.Followers(nodes, leader)
	ctx := context.Background()
	// Ask the one follower to move leadership to the other follower.
	target := followers[1]
	// The follower may not know the leader yet: it answers not leader
	// and does nothing until it does.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := followers[0].TransferLeadership(ctx, target.Self.ID)
		if err == nil {
			break
		}
		if !errors.Is(err, broker.ErrNotLeader) || time.Now().After(deadline) {
			t.Fatalf("transfer to %s: %v", target.Self.ID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := brokertest.WaitClusterLeader(t, nodes, 10*time.Second); got != target {
		// WaitClusterLeader may catch the old leader before it stepped down.
		deadline = time.Now().Add(10 * time.Second)
		for !target.IsLeader() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !target.IsLeader() {
			t.Fatalf("leader is not %s after a transfer to it", target.Self.ID)
		}
	}
	if err := target.TransferLeadership(ctx, target.Self.ID); err != nil {
		t.Fatalf("transfer to the leader itself: %v", err)
	}
	if !target.IsLeader() {
		t.Fatalf("a transfer to the leader itself moved leadership")
	}
	for _, id := range []string{"n-none", "bad id!"} {
		if err := target.TransferLeadership(ctx, id); !errors.Is(err, broker.ErrNodeNotFound) {
			t.Fatalf("transfer to %q: %v, want node not found", id, err)
		}
	}
}
