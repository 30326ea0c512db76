package broker_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
)

// rejectedOps reads hookq_fsm_rejected_ops_total{reason} from reg.
func rejectedOps(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "hookq_fsm_rejected_ops_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no hookq_fsm_rejected_ops_total{reason=%q}", reason)
	return 0
}

// A poison entry in the log (one that does not decode, ops with no kind or
// missing parts) is applied as a no-op by every voter: all three stay up,
// keep committing and agree, and a voter that replays the entry after a
// restart does not crash either.
func TestPoisonEntriesLeaveEveryVoterUpAndAgreeing(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	regs := map[string]*prometheus.Registry{}
	nodes := brokertest.StartCluster(t, 3, func(c *broker.Config) {
		regs[c.NodeID] = prometheus.NewRegistry()
		c.Registry = regs[c.NodeID]
	})
	leader := brokertest.WaitClusterLeader(t, nodes, 15*time.Second)
	mustQueue(t, leader.Broker, "q")
	brokertest.MustEnqueue(t, leader.Broker, "q", "before")

	cmd, err := proto.Marshal(&pb.Command{LeaderTimeUnixNano: time.Now().UnixNano(), Ops: []*pb.Op{
		{},                        // no kind
		{Kind: &pb.Op_PutQueue{}}, // no settings
		{Kind: &pb.Op_PutNode{}},  // no node
		{Kind: &pb.Op_Enqueue{Enqueue: &pb.Enqueue{Source: "s", Queues: []string{"q"}, Body: []byte("kept")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	undecodable := leader.Raft().Apply([]byte("\xff\xfe\xfd not a command"), 10*time.Second)
	if err := undecodable.Error(); err != nil {
		t.Fatalf("apply undecodable entry: %v", err)
	}
	if r, ok := undecodable.Response().(*raftfsm.Response); !ok || !errors.Is(r.Err, raftfsm.ErrUndecodable) || len(r.Results) != 0 {
		t.Errorf("undecodable entry answered %#v, want ErrUndecodable", undecodable.Response())
	}
	mixed := leader.Raft().Apply(cmd, 10*time.Second)
	if err := mixed.Error(); err != nil {
		t.Fatalf("apply poison command: %v", err)
	}
	r, ok := mixed.Response().(*raftfsm.Response)
	if !ok || r.Err != nil || len(r.Results) != 4 {
		t.Fatalf("poison command answered %#v, want 4 results", mixed.Response())
	}
	for i, want := range []error{raftfsm.ErrUnknownOp, storage.ErrInvalidOp, storage.ErrInvalidOp} {
		if res, _ := r.Results[i].(storage.Result); !errors.Is(res.Err, want) {
			t.Errorf("op %d: %#v, want %v", i, r.Results[i], want)
		}
	}
	if res, _ := r.Results[3].(storage.EnqueueResult); res.Err != nil || res.MessageID == "" {
		t.Errorf("good op beside the poison: %#v", r.Results[3])
	}
	poisonIndex := mixed.Index()

	// Every voter is up and commits: enqueue through each (followers forward).
	for i, n := range nodes {
		if s := n.Raft().State(); s == raft.Shutdown {
			t.Fatalf("%s shut down after the poison entries", n.NodeID())
		}
		brokertest.MustEnqueue(t, n.Broker, "q", fmt.Sprintf("after %d", i))
	}
	brokertest.WaitConverged(t, nodes, 20*time.Second)
	for _, n := range nodes {
		if got := n.Store().AppliedIndex(); got <= poisonIndex {
			t.Errorf("%s applied index %d, want past the poison entry %d", n.NodeID(), got, poisonIndex)
		}
		for reason, want := range map[string]float64{raftfsm.ReasonUndecodable: 1, raftfsm.ReasonEmptyOp: 1, raftfsm.ReasonInvalidOp: 2} {
			if got := rejectedOps(t, regs[n.NodeID()], reason); got != want {
				t.Errorf("%s: hookq_fsm_rejected_ops_total{reason=%q} = %v, want %v", n.NodeID(), reason, got, want)
			}
		}
	}

	// Restart both followers: one on its store (Raft feeds it the log again
	// and the store skips what it holds), one with its store wiped, so it
	// re-applies every entry, poison included, from the Raft log.
	fs := brokertest.Followers(nodes, leader)
	for _, f := range fs {
		f.Stop()
	}
	if err := os.RemoveAll(filepath.Join(fs[1].Cfg.DataDir, "fsm")); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		f.Restart(t)
	}
	brokertest.MustEnqueue(t, leader.Broker, "q", "after restart")
	for _, f := range fs {
		brokertest.MustEnqueue(t, f.Broker, "q", "through "+f.NodeID())
	}
	brokertest.WaitConverged(t, nodes, 30*time.Second)
	if got := rejectedOps(t, regs[fs[1].NodeID()], raftfsm.ReasonUndecodable); got != 1 {
		t.Errorf("the wiped follower counted %v undecodable entries on replay, want 1 (it did not re-apply the poison)", got)
	}
	q, err := leader.Queue("q")
	if err != nil || q.Stats.Enqueued != 8 {
		t.Errorf("queue q: %v, enqueued %d, want 8 (1 before, 1 beside the poison, 3 after, 3 after the restart)", err, q.Stats.Enqueued)
	}
}
