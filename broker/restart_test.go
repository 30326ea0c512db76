package broker_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
)

// A store left behind the newest snapshot (a crash between saving an
// installed snapshot and restoring it, or a failed restore) is brought up
// to the snapshot on start instead of being trusted.
func TestRestartWithStoreBehindSnapshotRestoresIt(t *testing.T) {
	cfg := broker.Config{NodeID: "n1", DataDir: t.TempDir(), RaftAddr: brokertest.FreeAddr(t), Raft: brokertest.SoloRaft}
	open := func() *broker.Broker {
		t.Helper()
		b, err := broker.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		brokertest.WaitLeader(t, b, 10*time.Second)
		return b
	}
	copyDir := func(from, to string) {
		t.Helper()
		if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
	}
	b := open()
	mustQueue(t, b, "q")
	b.Close()
	stale := filepath.Join(t.TempDir(), "fsm-stale")
	copyDir(filepath.Join(cfg.DataDir, "fsm"), stale)

	b = open()
	for i := 0; i < 20; i++ {
		if _, err := b.Enqueue(context.Background(), broker.EnqueueRequest{Source: "s", Queues: []string{"q"}, Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Raft().Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := os.RemoveAll(filepath.Join(cfg.DataDir, "fsm")); err != nil {
		t.Fatal(err)
	}
	copyDir(stale, filepath.Join(cfg.DataDir, "fsm"))

	b = open()
	defer b.Close()
	q, err := b.Queue("q")
	if err != nil || q.Stats.Ready != 20 {
		t.Fatalf("after restart over a stale store: %v, ready %d, want 20", err, q.Stats.Ready)
	}
}

// A node removed from the configuration does not come back through its
// heartbeats; the cluster lists only members and ingest nodes.
func TestRemovedVoterStaysRemoved(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	nodes := brokertest.StartCluster(t, 3, nil)
	leader := brokertest.WaitClusterLeader(t, nodes, 10*time.Second)
	victim := brokertest.Followers(nodes, leader)[0]
	// Wait until the victim's record exists (heartbeats), then remove it.
	deadline := time.Now().Add(10 * time.Second)
	for !hasNode(t, leader.Broker, victim.NodeID()) {
		if time.Now().After(deadline) {
			t.Fatal("victim never registered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := leader.RemoveNode(context.Background(), victim.NodeID()); err != nil {
		t.Fatalf("remove: %v", err)
	}
	// The victim keeps running and heartbeating for a while: it must stay
	// out for several heartbeat intervals.
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		if hasNode(t, leader.Broker, victim.NodeID()) {
			t.Fatalf("removed node %s is listed again", victim.NodeID())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hasNode(t *testing.T, b *broker.Broker, id string) bool {
	t.Helper()
	info, err := b.Cluster()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range info.Nodes {
		if n.ID == id {
			return true
		}
	}
	return false
}
