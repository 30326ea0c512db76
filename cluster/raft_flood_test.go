package cluster_test

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/internal/tlsutil/tlstest"
)

// Issue 9 review, item 1: idle TCP connections to a node's Raft port are
// closed within the handshake deadline (5 s; past the 64 pending
// handshakes, at once) and never reach Raft, which allocates a 256 KiB
// read buffer per connection: 500 of them stay under 32 MiB of heap
// (Raft's buffers alone would be 125 MiB), and the cluster keeps
// committing.
func TestRaftPortIdleConnectionsAreBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	t.Run("cluster key", func(t *testing.T) { floodRaftPort(t, nil) })
	t.Run("mutual TLS", func(t *testing.T) { floodRaftPort(t, brokertest.TLS(t, tlstest.NewCA(t, "cluster"))) })
}

func floodRaftPort(t *testing.T, tune func(*broker.Config)) {
	const (
		n         = 500
		deadline  = 5*time.Second + 3*time.Second // handshake deadline + slack
		maxGrowth = 32 << 20
	)
	nodes := brokertest.StartCluster(t, 3, tune)
	leader := brokertest.WaitClusterLeader(t, nodes, 10*time.Second)
	mustQueue(t, leader.Broker, "orders")
	c := startCommitter(t, nodes, "orders")
	c.advancing(t, "start")
	f := brokertest.Followers(nodes, leader)[0]

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	base := heap()
	start := time.Now()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		conn, err := net.DialTimeout("tcp", f.Cfg.RaftAddr, 5*time.Second)
		if err != nil {
			// The listener's backlog may refuse some: those are bounded too.
			t.Logf("dial %d: %v", i, err)
			continue
		}
		conns = append(conns, conn)
	}
	t.Cleanup(func() {
		for _, conn := range conns {
			conn.Close()
		}
	})
	if len(conns) < n/2 {
		t.Fatalf("only %d of %d connections opened", len(conns), n)
	}
	// Sample the heap while the connections are open or pending.
	var peak uint64
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if h := heap(); h > peak {
			peak = h
		}
	}
	t.Logf("%d idle connections: heap in use %d MiB before, peak %d MiB", len(conns), base>>20, peak>>20)
	if peak > base+maxGrowth {
		t.Errorf("heap grew by %d MiB with %d idle Raft connections, want under %d MiB", (peak-base)>>20, len(conns), maxGrowth>>20)
	}

	// Every connection is closed by the node within the deadline.
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := 0
	for _, conn := range conns {
		wg.Add(1)
		go func(conn net.Conn) {
			defer wg.Done()
			_ = conn.SetReadDeadline(start.Add(deadline))
			buf := make([]byte, 64)
			for {
				_, err := conn.Read(buf) // the preamble's nonce may come first
				if err == nil {
					continue
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					mu.Lock()
					open++
					mu.Unlock()
				}
				return
			}
		}(conn)
	}
	wg.Wait()
	if open > 0 {
		t.Errorf("%d of %d idle connections still open %v after they were made", open, len(conns), deadline)
	}
	c.advancing(t, "idle connection flood")
	c.halt()
	if c.failed.Load() > 0 {
		t.Fatalf("%d proposals failed during the flood (last: %v)", c.failed.Load(), c.lastErr.Load())
	}
}
