package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hookq/hookq/cluster"
	"github.com/hookq/hookq/internal/tlsutil"
	"google.golang.org/grpc"
)

// tlsFlags are the certificate flags of hookq serve.
type tlsFlags struct {
	cert, key                          string
	clusterCA, clusterCert, clusterKey string
	reloadEvery                        time.Duration
}

func (t *tlsFlags) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.cert, "tls-cert", "", "PEM certificate (chain) for the public HTTP and gRPC listeners; reloaded on SIGHUP and when the file changes")
	fs.StringVar(&t.key, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&t.clusterCA, "cluster-ca", "", "PEM CA that signs every node's cluster certificate; with --cluster-tls-cert/--cluster-tls-key, all node-to-node traffic is mutual TLS")
	fs.StringVar(&t.clusterCert, "cluster-tls-cert", "", "PEM certificate of this node, signed by --cluster-ca (voters: DNS SAN "+tlsutil.ClusterServerName+", server and client auth)")
	fs.StringVar(&t.clusterKey, "cluster-tls-key", "", "PEM private key of --cluster-tls-cert")
	fs.DurationVar(&t.reloadEvery, "tls-reload-interval", tlsutil.ReloadInterval, "how often the certificate files are checked for a change (SIGHUP reloads at once)")
}

// tlsSetup is a node's loaded certificates: public (nil: plain HTTP and
// gRPC) and cluster (nil: node-to-node traffic in plaintext).
type tlsSetup struct {
	public      *tlsutil.Keypair
	cluster     *tlsutil.Cluster
	reloadEvery time.Duration
}

// loadTLS reads the certificate files named by flags that Validate
// accepted.
func loadTLS(t tlsFlags, log *slog.Logger) (*tlsSetup, error) {
	s := &tlsSetup{reloadEvery: t.reloadEvery}
	if t.cert != "" {
		kp, err := tlsutil.LoadKeypair(t.cert, t.key, log)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert: %w", err)
		}
		s.public = kp
	}
	if t.clusterCA != "" {
		c, err := tlsutil.LoadCluster(t.clusterCA, t.clusterCert, t.clusterKey, log)
		if err != nil {
			return nil, fmt.Errorf("--cluster-tls-cert: %w", err)
		}
		s.cluster = c
	}
	return s, nil
}

// reload starts reloading the key pairs on SIGHUP and when their files
// change, until ctx ends. SIGHUP is caught even without certificates (it
// then reloads nothing) rather than ending the process.
func (s *tlsSetup) reload(ctx context.Context, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	pairs := s.pairs()
	for _, kp := range pairs {
		go kp.Watch(ctx, s.reloadEvery)
	}
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading certificates", "pairs", len(pairs))
				for _, kp := range pairs {
					_ = kp.Reload() // logs; a bad pair keeps the old one
				}
			}
		}
	}()
}

func (s *tlsSetup) pairs() []*tlsutil.Keypair {
	var out []*tlsutil.Keypair
	if s.public != nil {
		out = append(out, s.public)
	}
	if s.cluster != nil {
		out = append(out, s.cluster.Cert)
	}
	return out
}

// voterListener is the TLS config of a voter's HTTP and gRPC listeners:
// nodes get the cluster certificate (by SNI) and are asked for theirs,
// everyone else gets the public one. Nil: serve plain.
func (s *tlsSetup) voterListener() *tls.Config { return tlsutil.Listener(s.public, s.cluster) }

// grpcOptions adds the transport credentials of a voter's gRPC listener.
func (s *tlsSetup) grpcOptions(opts []grpc.ServerOption) []grpc.ServerOption {
	if creds := cluster.ServerCredentials(s.public, s.cluster); creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	return opts
}

// nodeClient is the HTTP client a node uses to call other nodes' HTTP
// listeners (joining): mutual TLS with the cluster identity, or the
// default client (system roots for https URLs).
func (s *tlsSetup) nodeClient() *http.Client {
	if s.cluster == nil {
		return &http.Client{}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: s.cluster.Client(), TLSHandshakeTimeout: 10 * time.Second}}
}

// warnPlaintext logs, at start, what travels in plaintext on a
// non-loopback address.
func (s *tlsSetup) warnPlaintext(log *slog.Logger, public []string, nodeAddrs []string) {
	if s.cluster == nil && anyNonLoopback(append(append([]string(nil), public...), nodeAddrs...)) {
		log.Warn("node-to-node traffic (Raft, forwarding, heartbeats, join) is NOT encrypted or authenticated by certificate, and this node listens on a non-loopback address: anyone who reaches its ports can talk to it; set --cluster-ca, --cluster-tls-cert and --cluster-tls-key",
			"listeners", append(append([]string(nil), public...), nodeAddrs...))
	}
	if s.public == nil && anyNonLoopback(public) {
		log.Warn("public listeners serve plaintext HTTP/gRPC on a non-loopback address: bearer tokens and payloads travel in clear; set --tls-cert and --tls-key", "listeners", public)
	}
}

// anyNonLoopback reports whether some host:port listens beyond loopback
// (an empty or unspecified host listens everywhere).
func anyNonLoopback(addrs []string) bool {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			continue
		}
		return true
	}
	return false
}
