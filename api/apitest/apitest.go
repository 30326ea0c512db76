// Package apitest starts real hookq nodes for tests of the public APIs:
// real Raft over TCP on 127.0.0.1, real Pebble in a temporary directory,
// the HTTP API and a gRPC server carrying the public hookq.v1 services
// next to the internal node-to-node one, as `hookq serve` wires them.
package apitest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/cluster"
	"google.golang.org/grpc"
)

// AdminToken is the admin bearer token of the nodes this package starts.
const AdminToken = "apitest-admin-token" // #nosec G101 -- a fixed token of throwaway test nodes

// Node is one running node.
type Node struct {
	// HTTPURL is the HTTP API's base URL (http://127.0.0.1:port).
	HTTPURL string
	// GRPCAddr is the gRPC server's host:port (plaintext).
	GRPCAddr string
	// AdminToken is a bearer token with the admin scope, valid on both.
	AdminToken string
	Broker     *broker.Broker
	// API is the node's API server; GRPC its gRPC server.
	API  *api.Server
	GRPC *grpc.Server
}

// Start starts a single-voter node, waits until it leads, and stops it
// when the test ends.
func Start(t testing.TB) *Node {
	t.Helper()
	return StartConfig(t, api.Config{})
}

// StartConfig is Start with API settings (HTTPAddr, AdminToken,
// ClusterKey and Registry are filled by it).
func StartConfig(t testing.TB, cfg api.Config) *Node {
	t.Helper()
	grpcLn := listen(t)
	httpLn := listen(t)
	b, m := brokertest.MustOpenMember(t, broker.Config{ClusterKey: brokertest.ClusterKey, Raft: brokertest.SoloRaft},
		cluster.Config{Self: cluster.Node{GRPCAddr: grpcLn.Addr().String(), HTTPAddr: httpLn.Addr().String()}})
	return serve(t, b, m, cfg, httpLn, grpcLn)
}

// Serve serves the HTTP API and the public gRPC API of b, which runs
// elsewhere (a node of brokertest.StartCluster, whose own gRPC server
// carries the node-to-node service), until the test ends.
func Serve(t testing.TB, b *broker.Broker) *Node {
	t.Helper()
	return serve(t, b, nil, api.Config{}, listen(t), listen(t))
}

func serve(t testing.TB, b *broker.Broker, m *cluster.Member, cfg api.Config, httpLn, grpcLn net.Listener) *Node {
	t.Helper()
	cfg.HTTPAddr = httpLn.Addr().String()
	if cfg.AdminToken == "" {
		cfg.AdminToken = AdminToken
	}
	cfg.ClusterKey = brokertest.ClusterKey
	srv := api.New(cfg, b)
	opts := append(cluster.NodeAuth{ClusterKey: brokertest.ClusterKey, Public: srv.GRPCTap}.ServerOptions(), srv.GRPCServerOptions()...)
	gs := grpc.NewServer(opts...)
	if m != nil {
		m.Register(gs)
	}
	srv.RegisterGRPC(gs)
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(httpLn) }()
	grpcDone := make(chan error, 1)
	go func() { grpcDone <- gs.Serve(grpcLn) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Logf("http shutdown: %v", err)
		}
		srv.GracefulStopGRPC(gs, 5*time.Second)
		if err := <-httpDone; err != nil {
			t.Logf("http serve: %v", err)
		}
		if err := <-grpcDone; err != nil {
			t.Logf("grpc serve: %v", err)
		}
	})
	return &Node{HTTPURL: "http://" + cfg.HTTPAddr, GRPCAddr: grpcLn.Addr().String(), AdminToken: cfg.AdminToken, Broker: b, API: srv, GRPC: gs}
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// Queue creates queue name with the default settings (docs/API.md §3.1),
// adjusted by tune when it is not nil.
func (n *Node) Queue(t testing.TB, name string, tune func(*broker.QueueConfig)) {
	t.Helper()
	cfg := broker.DefaultQueueConfig(name)
	if tune != nil {
		tune(&cfg)
	}
	if _, err := n.Broker.PutQueue(context.Background(), name, cfg); err != nil {
		t.Fatalf("put queue %s: %v", name, err)
	}
}

// Token creates a stored token with scopes and returns its secret.
func (n *Node) Token(t testing.TB, name string, scopes ...string) string {
	t.Helper()
	secret, err := n.Broker.CreateToken(context.Background(), name, scopes)
	if err != nil {
		t.Fatalf("create token %s: %v", name, err)
	}
	return secret
}
