package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/ingest"
)

// TestCaptureSourceSecretThroughFollowers: Asana's handshake may reach
// any voter. A capture made through a follower is committed by the
// leader; a second capture with another secret, through the other
// follower, is refused with ErrSourceHasSecret (which crosses the
// node-to-node wire as itself) and the leader keeps the first secret.
func TestCaptureSourceSecretThroughFollowers(t *testing.T) {
	nodes := brokertest.StartCluster(t, 3, nil)
	leader := brokertest.WaitClusterLeader(t, nodes, 10*time.Second)
	followers := brokertest.Followers(nodes, leader)
	ctx := context.Background()
	if _, err := leader.PutQueue(ctx, "q", broker.DefaultQueueConfig("q")); err != nil {
		t.Fatal(err)
	}
	cfg := ingest.SourceConfig{Queues: []string{"q"}, Verify: ingest.VerifyConfig{Type: "asana"}}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.PutSource(ctx, "asana", cfg); err != nil {
		t.Fatal(err)
	}
	if err := followers[0].CaptureSourceSecret(ctx, "asana", "first"); err != nil {
		t.Fatalf("capture through a follower: %v", err)
	}
	err := followers[1].CaptureSourceSecret(ctx, "asana", "second")
	if !errors.Is(err, broker.ErrSourceHasSecret) {
		t.Fatalf("second capture: %v, want ErrSourceHasSecret", err)
	}
	if c := broker.Classify(err); c.Code != broker.CodeConflict {
		t.Errorf("second capture classified %q, want %q", c.Code, broker.CodeConflict)
	}
	src, err := leader.Source("asana")
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Verify.Secrets) != 1 || src.Verify.Secrets[0] != "first" {
		t.Fatalf("leader holds %d secrets, want the first capture's", len(src.Verify.Secrets))
	}
}
