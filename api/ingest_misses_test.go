package api_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/cluster"
	"github.com/hookq/hookq/ingest"
	"google.golang.org/grpc"
)

// sourcesCountingVoter is keyedVoter whose Cluster service counts the
// Sources calls it answers.
func sourcesCountingVoter(t *testing.T) (*env, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	grpcAddr := brokertest.FreeAddr(t)
	b, m := brokertest.MustOpenMember(t, broker.Config{}, cluster.Config{Self: cluster.Node{GRPCAddr: grpcAddr}})
	ln, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	count := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if info.FullMethod == "/hookq.raftcmd.Cluster/Sources" {
			calls.Add(1)
		}
		return h(ctx, req)
	}
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(count, cluster.NodeAuth{ClusterKey: testClusterKey, IngestKey: testIngestKey}.UnaryInterceptor()))
	m.Register(gs)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	e := serveEnv(t, b)
	e.queue("orders")
	e.source("orders", ingest.SourceConfig{Queues: []string{"orders"}, Verify: ingest.VerifyConfig{Type: "none"}})
	return e, &calls
}

// Webhooks for unknown sources on an ingest node do not make the leader
// send every source config each time: a confirmed miss is remembered (for
// at most a second, or until the sources change). A source created on the
// leader is still found at once, and a remembered miss is found once it
// exists.
func TestIngestNodeRemembersUnknownSources(t *testing.T) {
	e, calls := sourcesCountingVoter(t)
	n, srv := startIngestNode(t, e, "i1", testIngestKey)
	admEventually(t, 15*time.Second, "ingest node ready", func() bool {
		_, err := n.Source("orders")
		return n.Ready() && err == nil
	})

	const names, perName = 3, 100
	start, before := time.Now(), calls.Load()
	for i := 0; i < perName; i++ {
		for j := 0; j < names; j++ {
			if code := post(t, fmt.Sprintf("%s/hooks/ghost%d", srv.URL, j)); code != http.StatusNotFound {
				t.Fatalf("webhook for an unknown source = %d, want 404", code)
			}
		}
	}
	// One reload per name, again per name each missTTL (1s) the flood
	// lasted, and one per sources change a heartbeat sees (none here).
	got := calls.Load() - before
	if limit := int64(names * (2 + int(time.Since(start)/time.Second))); got > limit {
		t.Fatalf("%d misses cost %d Sources calls, want at most %d", names*perName, got, limit)
	}

	// Misses for many different names wait for the next reload together:
	// at most one reload per 200ms.
	const workers, each = 4, 5
	start, before = time.Now(), calls.Load()
	var wg sync.WaitGroup
	codes := make(chan int, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				codes <- post(t, fmt.Sprintf("%s/hooks/nobody-%d-%d", srv.URL, w, i))
			}
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusNotFound {
			t.Fatalf("webhook for an unknown source = %d, want 404", code)
		}
	}
	got = calls.Load() - before
	if limit := 2 + int64(time.Since(start)/(200*time.Millisecond)); got > limit {
		t.Fatalf("%d misses for different names cost %d Sources calls in %v, want at most %d", workers*each, got, time.Since(start), limit)
	}

	// A new source is found at once...
	e.source("fresh", ingest.SourceConfig{Queues: []string{"orders"}, Verify: ingest.VerifyConfig{Type: "none"}})
	if code := post(t, srv.URL+"/hooks/fresh"); code != http.StatusAccepted {
		t.Fatalf("webhook for a source created a moment ago = %d, want 202", code)
	}
	// ...and one missed a moment ago within a second or a heartbeat.
	e.source("ghost0", ingest.SourceConfig{Queues: []string{"orders"}, Verify: ingest.VerifyConfig{Type: "none"}})
	admEventually(t, 5*time.Second, "a remembered miss found once created", func() bool {
		return post(t, srv.URL+"/hooks/ghost0") == http.StatusAccepted
	})
}
