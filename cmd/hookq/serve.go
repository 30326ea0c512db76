package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/cluster"
	"github.com/hookq/hookq/ingest"
	"github.com/hookq/hookq/internal/logging"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

type serveConfig struct {
	dev        bool
	nodeID     string
	dataDir    string
	httpAddr   string
	grpcAddr   string
	raftAddr   string
	peers      string
	join       string
	adminToken string
	clusterKey string
	publicURL  string
	role       string
	seeds      string
	logLevel   string
	logFormat  string
	tls        tlsFlags

	// Filled by Validate.
	peerMap  map[string]string // --peers
	seedList []string          // --seeds

	// HTTP limits (api/limits.go).
	bodyReadTimeout time.Duration
	maxConns        int
	// grpcStopTimeout bounds the graceful stop of the gRPC server.
	grpcStopTimeout time.Duration

	// pprofAddr, when set, serves net/http/pprof there (runtime_tuning.go).
	pprofAddr string

	// ingestKey, and the --*-file forms of the secrets (see secrets.go).
	ingestKey      string
	adminTokenFile string
	clusterKeyFile string
	ingestKeyFile  string
}

func (c *serveConfig) flags(fs *flag.FlagSet) {
	host, _ := os.Hostname()
	fs.BoolVar(&c.dev, "dev", false, "single dev node: ./hookq-data, admin token \"dev\", source \"demo\" → queue \"demo\"")
	fs.StringVar(&c.nodeID, "node-id", host, "this node's id (default: hostname)")
	fs.StringVar(&c.dataDir, "data-dir", "./hookq-data", "directory for the Raft log, snapshots and Pebble")
	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&c.grpcAddr, "grpc-addr", "127.0.0.1:9090", "gRPC listen address")
	fs.StringVar(&c.raftAddr, "raft-addr", "127.0.0.1:7000", "Raft TCP address (bind and advertise)")
	fs.StringVar(&c.peers, "peers", "", "initial voters id=raftaddr,... (identical on every initial voter)")
	fs.StringVar(&c.join, "join", "", "HTTP(S) URL of a running cluster to join as a fresh node (https:// with --cluster-ca)")
	fs.StringVar(&c.adminToken, "admin-token", "", "bearer token with the admin scope")
	fs.StringVar(&c.clusterKey, "cluster-key", "", "shared secret for node-to-node calls between voters (default: the admin token)")
	fs.StringVar(&c.ingestKey, "ingest-key", "", "secret of ingest nodes: voters accept it for source configs and enqueues only; ingest nodes present it (default there: the cluster key)")
	fs.StringVar(&c.adminTokenFile, "admin-token-file", "", "read --admin-token from this file (keeps it out of ps)")
	fs.StringVar(&c.clusterKeyFile, "cluster-key-file", "", "read --cluster-key from this file")
	fs.StringVar(&c.ingestKeyFile, "ingest-key-file", "", "read --ingest-key from this file")
	fs.StringVar(&c.publicURL, "public-url", "", "base URL of the ack/nack/reject/extend URLs in meta (default http://<http-addr>)")
	fs.StringVar(&c.role, "role", "voter", "voter | ingest")
	fs.StringVar(&c.seeds, "seeds", "", "ingest role: HTTP(S) URLs of cluster nodes, comma separated (https:// with --cluster-ca)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug | info | warn | error (Raft's own lines too)")
	fs.StringVar(&c.logFormat, "log-format", "text", "text | json (one JSON object a line)")
	c.tls.flags(fs)
	fs.DurationVar(&c.bodyReadTimeout, "body-read-timeout", api.DefaultBodyReadTimeout, "a request body must arrive whole within this, from the end of its headers, or it is answered 408 and the connection closed")
	fs.DurationVar(&c.grpcStopTimeout, "grpc-stop-timeout", 10*time.Second, "on SIGTERM, how long in-flight gRPC calls may take to finish after Consume streams were ended; then the gRPC server closes its connections")
	fs.StringVar(&c.pprofAddr, "pprof-addr", "", "serve Go profiles (net/http/pprof, /debug/pprof/) on this address, with no authentication: loopback only in practice (default: off)")
	fs.IntVar(&c.maxConns, "max-conns", api.DefaultMaxConns, "most open HTTP connections, and most open gRPC connections; more wait in the kernel's accept queue until one closes")
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c serveConfig
	c.flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fromCLI := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { fromCLI[f.Name] = true })
	if err := applyEnv(fs); err != nil {
		return err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	log, err := logging.New(c.logFormat, c.logLevel, stderr)
	if err != nil {
		return err
	}
	if err := resolveSecrets(&c, fromCLI, log); err != nil {
		return err
	}
	if c.dev {
		if c.adminToken == "" && !explicit["admin-token"] {
			c.adminToken = "dev"
		}
		if !explicit["node-id"] && os.Getenv("HOOKQ_NODE_ID") == "" {
			c.nodeID = "dev"
		}
	}
	if c.clusterKey == "" {
		c.clusterKey = c.adminToken
	}
	if err := c.Validate(); err != nil {
		return err
	}
	tuneGC()
	stopPprof, err := startPprof(c.pprofAddr, log)
	if err != nil {
		return err
	}
	defer stopPprof()
	// Everything the node creates from here on (Pebble, the Raft log,
	// snapshots) is private to its user.
	restrictUmask()
	if c.role == "ingest" {
		return runIngestNode(ctx, c, log)
	}
	peers := c.peerMap
	tlsSet, err := loadTLS(c.tls, log)
	if err != nil {
		return err
	}
	tlsSet.warnPlaintext(log, []string{c.httpAddr, c.grpcAddr}, []string{c.raftAddr})
	tlsSet.reload(ctx, log)
	credentialNotes(c, len(peers) > 1 || c.join != "", log)
	if err := privateDataDir(c.dataDir, log); err != nil {
		return err
	}

	httpLn, err := net.Listen("tcp", c.httpAddr)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	grpcLn, err := net.Listen("tcp", c.grpcAddr)
	if err != nil {
		httpLn.Close() // #nosec G104 -- cleanup on a failed start: the listen error is the one reported
		return fmt.Errorf("grpc listen: %w", err)
	}
	// One registry: the broker's metrics (the state machine's rejected ops)
	// and the API's are served together on /metrics.
	reg := prometheus.NewRegistry()
	b, err := broker.Open(broker.Config{
		NodeID: c.nodeID, DataDir: c.dataDir, RaftAddr: c.raftAddr, Peers: peers, NoBootstrap: c.join != "", ClusterKey: c.clusterKey, Logger: log,
		ClusterTLS: tlsSet.cluster, Registry: reg, Version: releaseString(),
	})
	if err != nil {
		httpLn.Close() // #nosec G104 -- cleanup on a failed start: the broker.Open error is the one reported
		grpcLn.Close() // #nosec G104 -- cleanup on a failed start: the broker.Open error is the one reported
		return err
	}
	member, err := cluster.NewMember(b, cluster.Config{
		Self: cluster.Node{ID: c.nodeID, RaftAddr: c.raftAddr, HTTPAddr: advertised(httpLn.Addr(), c.raftAddr), GRPCAddr: advertised(grpcLn.Addr(), c.raftAddr), Version: releaseString()},
		Key:  c.clusterKey, TLS: tlsSet.cluster, PublicTLS: tlsSet.public != nil, Logger: log,
	})
	if err != nil {
		httpLn.Close() // #nosec G104 -- cleanup on a failed start: the cluster.NewMember error is the one reported
		grpcLn.Close() // #nosec G104 -- cleanup on a failed start: the cluster.NewMember error is the one reported
		b.Close()      // #nosec G104 -- cleanup on a failed start: the cluster.NewMember error is the one reported
		return err
	}
	b.SetCluster(member)
	srv := api.New(api.Config{
		HTTPAddr: httpLn.Addr().String(), PublicURL: c.publicURL, AdminToken: c.adminToken, ClusterKey: c.clusterKey, IngestKey: c.ingestKey, Logger: log,
		BodyReadTimeout: c.bodyReadTimeout, MaxConns: c.maxConns,
		TLS: tlsSet.voterListener(), ClusterTLS: tlsSet.cluster != nil, Registry: reg,
	}, b)
	// One gRPC server: the internal node-to-node service (node keys) and
	// the public hookq.v1 API, health and reflection (tokens).
	grpcOpts := cluster.NodeAuth{ClusterKey: c.clusterKey, IngestKey: c.ingestKey, Public: srv.GRPCTap}.ServerOptions()
	// Every gRPC call is timed into hookq_grpc_request_duration_seconds
	// (outermost, so refused calls are timed too).
	gUnary, gStream := api.GRPCMetricsInterceptors(reg)
	grpcOpts = append([]grpc.ServerOption{grpc.ChainUnaryInterceptor(gUnary), grpc.ChainStreamInterceptor(gStream)}, grpcOpts...)
	gs := grpc.NewServer(tlsSet.grpcOptions(append(grpcOpts, srv.GRPCServerOptions()...))...)
	member.Register(gs)
	srv.RegisterGRPC(gs)
	go func() {
		// The gRPC port holds at most --max-conns connections too.
		if err := gs.Serve(cluster.LimitListener(grpcLn, c.maxConns)); err != nil {
			log.Error("grpc server", "err", err)
		}
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(httpLn) }()
	log.Info("hookq node started", "node", c.nodeID, "http", httpLn.Addr().String(), "grpc", grpcLn.Addr().String(),
		"raft", c.raftAddr, "data", c.dataDir)
	if c.join != "" {
		go joinCluster(ctx, log, tlsSet.nodeClient(), c.join, c.clusterKey, c.nodeID, c.raftAddr, advertised(httpLn.Addr(), c.raftAddr), advertised(grpcLn.Addr(), c.raftAddr))
	}

	if c.dev {
		if err := setupDev(ctx, b); err != nil {
			log.Error("dev setup", "err", err)
		} else {
			base := "http://" + httpLn.Addr().String()
			if tlsSet.public != nil {
				base = "https://" + httpLn.Addr().String()
			}
			printDevHelp(stdout, base, c.adminToken, c.dataDir)
		}
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil {
			log.Error("http server", "err", err)
		}
	}
	log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// Shutdown ends the SSE and gRPC Consume streams (these with
	// Unavailable, so clients reconnect) and turns gRPC health
	// NOT_SERVING; the gRPC server keeps serving the node-to-node calls
	// the leadership transfer may need.
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if b.IsLeader() && len(b.Raft().GetConfiguration().Configuration().Servers) > 1 {
		if err := b.Raft().LeadershipTransfer().Error(); err != nil {
			log.Warn("leadership transfer", "err", err)
		}
	}
	srv.GracefulStopGRPC(gs, c.grpcStopTimeout)
	member.Close()
	return b.Close()
}

// advertised is the address other nodes use to reach a listener: the
// listener's own, except that an unspecified host (0.0.0.0, ::) is
// replaced by the host of --raft-addr, which peers must reach anyway.
func advertised(ln net.Addr, raftAddr string) string {
	host, port, err := net.SplitHostPort(ln.String())
	if err != nil {
		return ln.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if rh, _, err := net.SplitHostPort(raftAddr); err == nil && rh != "" {
			host = rh
		}
	}
	return net.JoinHostPort(host, port)
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	return logging.New(logging.FormatText, level, w)
}

// setupDev waits for leadership, then creates queue demo and source demo
// (verify none) unless they exist.
func setupDev(ctx context.Context, b *broker.Broker) error {
	deadline := time.Now().Add(30 * time.Second)
	for !b.IsLeader() {
		if time.Now().After(deadline) {
			return errors.New("no leadership after 30s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := b.Queue("demo"); errors.Is(err, broker.ErrQueueNotFound) {
		if _, err := b.PutQueue(ctx, "demo", broker.DefaultQueueConfig("demo")); err != nil {
			return err
		}
	}
	if _, err := b.Source("demo"); errors.Is(err, broker.ErrSourceNotFound) {
		src := ingest.SourceConfig{Queues: []string{"demo"}, Verify: ingest.VerifyConfig{Type: "none"}}
		if err := src.Normalize(); err != nil {
			return err
		}
		if _, err := b.PutSource(ctx, "demo", src); err != nil {
			return err
		}
	}
	return nil
}

// printDevHelp prints how to use a --dev node, with the admin token and
// data dir in effect.
// addr is host:port (served over http) or a base URL with its scheme
// (https:// when the listener speaks TLS). With no admin token the
// commands show a <token> placeholder.
func printDevHelp(w io.Writer, addr, token, dataDir string) {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	shown, bearer := token, token
	if token == "" {
		shown, bearer = "none (/v1 accepts only tokens stored in the cluster)", "<token>" // #nosec G101 -- a placeholder shown when there is no token, not a credential
	}
	auth := shellQuote("Authorization: Bearer " + bearer)
	fmt.Fprintf(w, `
hookq dev node ready on %[1]s  (admin token: %[2]s, data: %[3]s)

  # post a webhook to source "demo" (feeds queue "demo")
  curl -i -X POST %[1]s/hooks/demo -H 'Content-Type: application/json' -d '{"hello":"world"}'
  # fetch it (meta with ready-made ack/nack URLs is in X-Hookq-Meta)
  curl -i -H %[4]s '%[1]s/v1/queues/demo/next?wait=5s'
  # ack it with the deliveryId from the meta
  curl -i -X POST -H %[4]s %[1]s/v1/queues/demo/deliveries/<deliveryId>/ack

`, base, shown, dataDir, auth)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
