package brokertest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/internal/tlsutil/tlstest"
	"google.golang.org/grpc"
)

// ClusterKey authenticates node-to-node calls in test clusters.
const ClusterKey = "test-cluster-key"

// FastRaft is Raft tuning for in-process test clusters: quicker elections,
// small snapshot thresholds.
var FastRaft = broker.RaftTuning{
	HeartbeatTimeout:   500 * time.Millisecond,
	ElectionTimeout:    500 * time.Millisecond,
	LeaderLeaseTimeout: 250 * time.Millisecond,
	CommitTimeout:      10 * time.Millisecond,
	MaxAppendEntries:   256,
	SnapshotThreshold:  8192,
	SnapshotInterval:   time.Hour,
	TrailingLogs:       10240,
	ApplyTimeout:       5 * time.Second,
}

// Node is one in-process cluster member with its gRPC server.
type Node struct {
	*broker.Broker
	Cfg  broker.Config
	GRPC *grpc.Server
}

// Restart reopens a closed node on the same directory and addresses.
func (n *Node) Restart(tb testing.TB) {
	tb.Helper()
	cfg := n.Cfg
	cfg.Peers = nil
	*n = *startNode(tb, cfg)
}

// StopNode closes a node (its gRPC server and broker).
func (n *Node) Stop() {
	n.GRPC.Stop()
	n.Broker.Close() // #nosec G104 -- tests stop a node to see how the others behave; a shutdown error would not change what they check
}

// StartCluster starts n voters over real TCP on 127.0.0.1, bootstrapped
// with the same --peers, and waits for a leader.
func StartCluster(tb testing.TB, n int, tune func(*broker.Config)) []*Node {
	tb.Helper()
	peers := map[string]string{}
	cfgs := make([]broker.Config, n)
	for i := range cfgs {
		id := fmt.Sprintf("n%d", i+1)
		cfgs[i] = broker.Config{
			NodeID: id, DataDir: tb.TempDir(), RaftAddr: FreeAddr(tb), GRPCAddr: FreeAddr(tb),
			HTTPAddr: FreeAddr(tb), ClusterKey: ClusterKey, Raft: FastRaft,
		}
		if tune != nil {
			tune(&cfgs[i])
		}
		peers[id] = cfgs[i].RaftAddr
	}
	nodes := make([]*Node, n)
	for i := range cfgs {
		cfgs[i].Peers = peers
		nodes[i] = startNode(tb, cfgs[i])
	}
	WaitClusterLeader(tb, nodes, 15*time.Second)
	return nodes
}

// TLS is a tune for StartCluster and StartJoiner: each node gets a voter
// certificate of ca and talks to the others over mutual TLS (Raft and
// gRPC). Compose it with other tunes by calling it from yours.
func TLS(tb testing.TB, ca *tlstest.CA) func(*broker.Config) {
	return func(c *broker.Config) { c.ClusterTLS = ca.Cluster(tb, c.NodeID) }
}

// StartJoiner starts a fresh node that waits to be added (--join).
func StartJoiner(tb testing.TB, id string, tune func(*broker.Config)) *Node {
	tb.Helper()
	cfg := broker.Config{
		NodeID: id, DataDir: tb.TempDir(), RaftAddr: FreeAddr(tb), GRPCAddr: FreeAddr(tb),
		HTTPAddr: FreeAddr(tb), ClusterKey: ClusterKey, Raft: FastRaft, NoBootstrap: true,
	}
	if tune != nil {
		tune(&cfg)
	}
	return startNode(tb, cfg)
}

func startNode(tb testing.TB, cfg broker.Config) *Node {
	tb.Helper()
	ln, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		tb.Fatalf("grpc listen: %v", err)
	}
	b, err := broker.Open(cfg)
	if err != nil {
		ln.Close() // #nosec G104 -- cleanup before Fatalf; the Open error is the one reported
		tb.Fatalf("open %s: %v", cfg.NodeID, err)
	}
	opts := broker.NodeAuth{ClusterKey: cfg.ClusterKey}.ServerOptions()
	if creds := broker.ServerCredentials(nil, cfg.ClusterTLS); creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	s := grpc.NewServer(opts...)
	b.RegisterGRPC(s)
	go s.Serve(ln)
	n := &Node{Broker: b, Cfg: cfg, GRPC: s}
	tb.Cleanup(n.Stop)
	return n
}

// WaitClusterLeader polls until exactly one running node leads and serves
// reads, and returns it.
func WaitClusterLeader(tb testing.TB, nodes []*Node, timeout time.Duration) *Node {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var leaders []*Node
		for _, n := range nodes {
			if n.IsLeader() {
				leaders = append(leaders, n)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("no single leader within %v", timeout)
	return nil
}

// WaitConverged polls until every node has applied the same index and
// holds byte-identical state, and returns that digest.
func WaitConverged(tb testing.TB, nodes []*Node, timeout time.Duration) string {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var last []string
	for time.Now().Before(deadline) {
		last = last[:0]
		same := true
		for _, n := range nodes {
			d, err := n.Store().Digest()
			if err != nil {
				tb.Fatalf("digest: %v", err)
			}
			last = append(last, fmt.Sprintf("%s@%d", d[:12], n.Store().AppliedIndex()))
			same = same && d == mustDigest(tb, nodes[0])
		}
		if same {
			return mustDigest(tb, nodes[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("nodes did not converge within %v: %v", timeout, last)
	return ""
}

func mustDigest(tb testing.TB, n *Node) string {
	d, err := n.Store().Digest()
	if err != nil {
		tb.Fatalf("digest: %v", err)
	}
	return d
}
