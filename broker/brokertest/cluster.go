package brokertest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/cluster"
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

// Node is one in-process cluster member: its broker, its cluster side
// and the gRPC server that carries the Cluster service.
type Node struct {
	*broker.Broker
	Member *cluster.Member
	Cfg    broker.Config
	// Self is the node's advertised addresses (its GRPCAddr is where its
	// gRPC server listens).
	Self cluster.Node
	GRPC *grpc.Server
}

// Restart reopens a closed node on the same directory and addresses.
func (n *Node) Restart(tb testing.TB) {
	tb.Helper()
	cfg := n.Cfg
	cfg.Peers = nil
	*n = *startNode(tb, cfg, n.Self)
}

// StopNode closes a node (its gRPC server, cluster side and broker).
func (n *Node) Stop() {
	n.GRPC.Stop()
	n.Member.Close()
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
		cfgs[i] = broker.Config{NodeID: id, DataDir: tb.TempDir(), RaftAddr: FreeAddr(tb), ClusterKey: ClusterKey, Raft: FastRaft}
		if tune != nil {
			tune(&cfgs[i])
		}
		peers[id] = cfgs[i].RaftAddr
	}
	nodes := make([]*Node, n)
	for i := range cfgs {
		cfgs[i].Peers = peers
		nodes[i] = startNode(tb, cfgs[i], cluster.Node{GRPCAddr: FreeAddr(tb), HTTPAddr: FreeAddr(tb)})
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
	cfg := broker.Config{NodeID: id, DataDir: tb.TempDir(), RaftAddr: FreeAddr(tb), ClusterKey: ClusterKey, Raft: FastRaft, NoBootstrap: true}
	if tune != nil {
		tune(&cfg)
	}
	return startNode(tb, cfg, cluster.Node{GRPCAddr: FreeAddr(tb), HTTPAddr: FreeAddr(tb)})
}

// startNode opens a broker on cfg, attaches its cluster side (self's
// addresses, cfg.ClusterKey for gRPC too, and cfg.ClusterTLS for gRPC too) and serves
// it on self.GRPCAddr.
func startNode(tb testing.TB, cfg broker.Config, self cluster.Node) *Node {
	tb.Helper()
	self.ID, self.RaftAddr = cfg.NodeID, cfg.RaftAddr
	ln, err := net.Listen("tcp", self.GRPCAddr)
	if err != nil {
		tb.Fatalf("grpc listen: %v", err)
	}
	b, err := broker.Open(cfg)
	if err != nil {
		ln.Close() // #nosec G104 -- cleanup before Fatalf; the Open error is the one reported
		tb.Fatalf("open %s: %v", cfg.NodeID, err)
	}
	m, err := cluster.NewMember(b, cluster.Config{Self: self, Key: cfg.ClusterKey, TLS: cfg.ClusterTLS, Timeout: cfg.Raft.ApplyTimeout})
	if err != nil {
		ln.Close() // #nosec G104 -- cleanup before Fatalf; the NewMember error is the one reported
		b.Close()  // #nosec G104 -- cleanup before Fatalf; the NewMember error is the one reported
		tb.Fatalf("cluster member %s: %v", cfg.NodeID, err)
	}
	b.SetCluster(m)
	opts := cluster.NodeAuth{ClusterKey: cfg.ClusterKey}.ServerOptions()
	if creds := cluster.ServerCredentials(nil, cfg.ClusterTLS); creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	s := grpc.NewServer(opts...)
	m.Register(s)
	go s.Serve(ln)
	n := &Node{Broker: b, Member: m, Cfg: cfg, Self: self, GRPC: s}
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

// Followers is nodes without leader.
func Followers(nodes []*Node, leader *Node) []*Node {
	var out []*Node
	for _, n := range nodes {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}

// MustEnqueue enqueues body to q through b (source "s") and returns the
// message id, or fails the test.
func MustEnqueue(tb testing.TB, b *broker.Broker, q, body string) string {
	tb.Helper()
	r, err := b.Enqueue(context.Background(), broker.EnqueueRequest{Source: "s", Queues: []string{q}, Body: []byte(body)})
	if err != nil {
		tb.Fatalf("enqueue via %s: %v", b.NodeID(), err)
	}
	return r.MessageID
}
