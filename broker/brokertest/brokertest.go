// Package brokertest starts real single-node brokers for tests: real Raft
// over TCP on 127.0.0.1, real Pebble and bbolt in a temporary directory.
package brokertest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/cluster"
)

// FreeAddr returns a 127.0.0.1 address with a port free at the time of
// the call. Ports come from below the kernel's ephemeral range, so a
// listener on :0 or an outgoing connection elsewhere (other test packages
// run in parallel) cannot take the port between this call and its use.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	for range 200 {
		port := 10000 + rand.IntN(22000) // #nosec G404 -- picks a test port to probe, nothing secret
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := l.Addr().String()
		l.Close() // #nosec G104 -- a probe listener that never accepted; only its port is wanted
		return addr
	}
	tb.Fatal("no free port found")
	return ""
}

// SoloRaft is Raft tuning for single-voter test nodes: a lone voter has no
// followers to lose, so it may elect itself quickly.
var SoloRaft = func() broker.RaftTuning {
	t := FastRaft
	t.HeartbeatTimeout, t.ElectionTimeout, t.LeaderLeaseTimeout = 200*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond
	t.ApplyTimeout = 10 * time.Second
	return t
}()

// MustOpen starts a single-voter node in a temporary directory and waits
// until it leads; it is closed when the test ends.
func MustOpen(tb testing.TB) *broker.Broker {
	tb.Helper()
	return MustOpenConfig(tb, broker.Config{NodeID: "n1", DataDir: tb.TempDir(), Raft: SoloRaft})
}

// MustOpenConfig is MustOpen with a config (NodeID, DataDir and RaftAddr
// filled when empty).
func MustOpenConfig(tb testing.TB, cfg broker.Config) *broker.Broker {
	tb.Helper()
	b, _ := MustOpenMember(tb, cfg, cluster.Config{})
	return b
}

// MustOpenMember is MustOpenConfig with the node's cluster side attached
// (cc.Self's id and Raft address come from cfg; cc.Key defaults to
// ClusterKey). Register the Member on a gRPC server to serve its peers.
func MustOpenMember(tb testing.TB, cfg broker.Config, cc cluster.Config) (*broker.Broker, *cluster.Member) {
	tb.Helper()
	if cfg.NodeID == "" {
		cfg.NodeID = "n1"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	if cfg.RaftAddr == "" {
		cfg.RaftAddr = FreeAddr(tb)
	}
	b, err := broker.Open(cfg)
	if err != nil {
		tb.Fatalf("open broker: %v", err)
	}
	cc.Self.ID, cc.Self.RaftAddr = cfg.NodeID, cfg.RaftAddr
	if cc.Key == "" {
		cc.Key = ClusterKey
	}
	m, err := cluster.NewMember(b, cc)
	if err != nil {
		b.Close() // #nosec G104 -- cleanup before Fatalf; the NewMember error is the one reported
		tb.Fatalf("cluster member: %v", err)
	}
	b.SetCluster(m)
	tb.Cleanup(func() {
		m.Close()
		if err := b.Close(); err != nil {
			tb.Errorf("close broker: %v", err)
		}
	})
	WaitLeader(tb, b, 10*time.Second)
	return b, m
}

// WaitLeader polls until b leads and serves reads, or fails the test.
func WaitLeader(tb testing.TB, b *broker.Broker, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !b.IsLeader() {
		if time.Now().After(deadline) {
			tb.Fatalf("node %s did not become leader within %v", b.NodeID(), timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
