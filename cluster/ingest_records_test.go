package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hookq/hookq/cluster"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Issue 9 review, item 7: the ingest key cannot create node records
// without end by heartbeating with new ids: past MaxIngestNodeRecords a
// new id is ResourceExhausted (and not recorded), while a recorded ingest
// node keeps heartbeating.
func TestIngestKeyCannotRecordUnlimitedNodes(t *testing.T) {
	n := startAuthNode(t)
	beat := func(id string) error {
		_, err := n.client.Heartbeat(as(t, authIngestKey), &pb.HeartbeatRequest{Node: &pb.NodeRecord{Id: id, Role: "ingest"}})
		return err
	}
	ingestRecords := func() int {
		nodes, err := n.b.Store().Nodes()
		if err != nil {
			t.Fatal(err)
		}
		c := 0
		for _, r := range nodes {
			if r.Role == "ingest" {
				c++
			}
		}
		return c
	}
	for i := 0; i < cluster.MaxIngestNodeRecords; i++ {
		if err := beat(fmt.Sprintf("i%d", i)); err != nil {
			t.Fatalf("heartbeat %d: %v", i, err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ingestRecords() < cluster.MaxIngestNodeRecords; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d ingest records, want %d", ingestRecords(), cluster.MaxIngestNodeRecords)
		}
	}
	for i := 0; i < 20; i++ {
		if err := beat(fmt.Sprintf("extra%d", i)); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("heartbeat for a new ingest node past the cap: %v, want ResourceExhausted", err)
		}
	}
	if err := beat("i0"); err != nil {
		t.Fatalf("a recorded ingest node's heartbeat: %v", err)
	}
	if got := ingestRecords(); got != cluster.MaxIngestNodeRecords {
		t.Fatalf("%d ingest records, want %d", got, cluster.MaxIngestNodeRecords)
	}
}
