package api_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/cluster"
	"github.com/hookq/hookq/ingest"
	"google.golang.org/grpc"
)

// keyedVoter is a single voter serving the Cluster service (both node
// keys) and the HTTP API (admin token and both node keys).
func keyedVoter(t *testing.T) *env {
	t.Helper()
	grpcAddr := brokertest.FreeAddr(t)
	b, m := brokertest.MustOpenMember(t, broker.Config{}, cluster.Config{Self: cluster.Node{GRPCAddr: grpcAddr}})
	ln, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.UnaryInterceptor(cluster.NodeAuth{ClusterKey: testClusterKey, IngestKey: testIngestKey}.UnaryInterceptor()))
	m.Register(gs)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	e := serveEnv(t, b)
	e.queue("orders")
	e.source("orders", ingest.SourceConfig{Queues: []string{"orders"}, Verify: ingest.VerifyConfig{Type: "none"}})
	return e
}

// startIngestNode runs ingest node id presenting key, seeded with e, and
// its ingest-only HTTP server.
func startIngestNode(t *testing.T, e *env, id, key string) (*cluster.IngestNode, *httptest.Server) {
	t.Helper()
	n, err := cluster.OpenIngest(cluster.IngestConfig{NodeID: id, HTTPAddr: "127.0.0.1:1", Seeds: []string{e.srv.URL}, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	srv := httptest.NewServer(api.NewIngestOnly(api.Config{}, n))
	t.Cleanup(srv.Close)
	return n, srv
}

func post(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"via":"ingest"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// An ingest node holding only the ingest key discovers the leader over
// HTTP, fetches the sources, registers itself and forwards webhooks; one
// started at the same time with a key the voters do not know gets
// nothing (no leader, no sources, no enqueue).
func TestIngestNodeWorksWithTheIngestKeyOnly(t *testing.T) {
	e := keyedVoter(t)
	good, goodSrv := startIngestNode(t, e, "i1", testIngestKey)
	bad, badSrv := startIngestNode(t, e, "i2", "not-a-key")
	admEventually(t, 15*time.Second, "ingest node with the ingest key ready", func() bool {
		_, err := good.Source("orders")
		return good.Ready() && err == nil
	})
	if code := post(t, goodSrv.URL+"/hooks/orders"); code != http.StatusAccepted {
		t.Fatalf("webhook through the ingest node = %d, want 202", code)
	}
	if st := e.consStats("orders"); st.Enqueued != 1 {
		t.Fatalf("orders enqueued %d, want 1", st.Enqueued)
	}
	admEventually(t, 10*time.Second, "ingest node registered", func() bool {
		info, err := e.b.Cluster()
		if err != nil {
			return false
		}
		for _, n := range info.Nodes {
			if n.ID == "i1" && n.Role == "ingest" && n.Suffrage == "none" {
				return true
			}
		}
		return false
	})

	// The other node had as many attempts.
	if bad.Ready() {
		t.Fatal("an ingest node with a wrong key is ready")
	}
	if _, err := bad.Source("orders"); err == nil {
		t.Fatal("an ingest node with a wrong key got the source config")
	}
	if code := post(t, badSrv.URL+"/hooks/orders"); code/100 == 2 {
		t.Fatalf("webhook through an ingest node with a wrong key = %d", code)
	}
	if st := e.consStats("orders"); st.Enqueued != 1 {
		t.Fatalf("orders enqueued %d, want 1", st.Enqueued)
	}
}
