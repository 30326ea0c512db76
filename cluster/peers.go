package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/internal/tlsutil"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// peers keeps one long-lived gRPC connection per node address, the
// transport credentials they are dialed with (see peerCredentials) and the
// key that authenticates calls on them.
type peers struct {
	key   string
	creds credentials.TransportCredentials
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newPeers(key string, creds credentials.TransportCredentials) *peers {
	return &peers{key: key, creds: creds, conns: map[string]*grpc.ClientConn{}}
}

func (p *peers) client(addr string) (pb.ClusterClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[addr]; ok {
		return pb.NewClusterClient(c), nil
	}
	c, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(p.creds),
		// Peers restart and come back as leader within seconds: keep the
		// reconnect backoff short (gRPC's default grows to 2 minutes, and a
		// connection in backoff fails every call fast).
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(broker.MaxRPCBytes), grpc.MaxCallSendMsgSize(broker.MaxRPCBytes)))
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %v", broker.ErrUnavailable, addr, err)
	}
	p.conns[addr] = c
	return pb.NewClusterClient(c), nil
}

func (p *peers) ctx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+p.key)
}

func (p *peers) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.conns {
		c.Close() // #nosec G104 -- closing peer connections on shutdown; nothing to recover
		delete(p.conns, a)
	}
}

// peerCredentials is how a node dials its peers' gRPC listeners: mutual
// TLS under the cluster server name with a cluster identity, server-only
// TLS verified against the system roots when peers serve a public
// certificate, plaintext otherwise.
func peerCredentials(cluster *tlsutil.Cluster, publicTLS bool) credentials.TransportCredentials {
	switch {
	case cluster != nil:
		return credentials.NewTLS(cluster.Client())
	case publicTLS:
		return credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	return insecure.NewCredentials()
}

// anyHTTPS reports whether some URL is https (the seeds serve TLS).
func anyHTTPS(urls []string) bool {
	for _, u := range urls {
		if strings.HasPrefix(strings.ToLower(u), "https://") {
			return true
		}
	}
	return false
}
