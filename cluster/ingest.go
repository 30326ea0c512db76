package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/ingest"
	"github.com/hookq/hookq/internal/coalesce"
	"github.com/hookq/hookq/internal/tlsutil"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// IngestConfig configures an ingest-only node (--role ingest).
type IngestConfig struct {
	NodeID   string
	HTTPAddr string   // advertised in its node record
	Seeds    []string // HTTP URLs of cluster nodes
	// Key is the credential the node presents to the cluster: the voters'
	// --ingest-key (or, for compatibility, their --cluster-key). It opens
	// leader discovery (GET /v1/cluster), Sources, Info, Heartbeat for
	// this node and Propose of enqueues; see NodeAuth.
	Key     string
	Batch   broker.BatchConfig
	Timeout time.Duration // one forwarded batch
	Logger  *slog.Logger
	// ClusterTLS, when set, makes the node's calls to voters mutual TLS
	// (gRPC forwarding and heartbeats, HTTP leader discovery): its seeds
	// must then be https:// URLs.
	ClusterTLS *tlsutil.Cluster
	// Version is this node's release, reported in its heartbeats.
	Version string
	// ForwardErrors, when set, counts the batches whose forwarding failed
	// (hookq_forward_errors_total, broker.NewForwardErrorsCounter).
	ForwardErrors prometheus.Counter
}

// IngestNode holds no data: it keeps the cluster's source configs, and
// forwards verified webhooks to the leader in batches over gRPC, following
// leader changes. It registers itself (role ingest, suffrage none) through
// its heartbeats.
type IngestNode struct {
	cfg   IngestConfig
	peers *peers
	relay *broker.Relay
	http  *http.Client
	kick  chan struct{}

	mu         sync.RWMutex
	leaderID   string
	leaderAddr string
	grpcOf     map[string]string // node id → gRPC address
	lastOK     time.Time         // last heartbeat the leader answered
	sources    map[string]*pb.SourceConfig
	sourcesVer uint64
	refresh    coalesce.Group // coalesces cache-miss reloads
	// misses are names a reload from the leader did not have, and when:
	// 404 without asking again for missTTL, or until a reload brings a
	// new sources version (see Source).
	misses map[string]time.Time
	// lastReload: when the last miss-triggered reload ended (used only
	// inside refresh, which runs one reload at a time).
	lastReload time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// OpenIngest starts an ingest node: it discovers the leader from the
// seeds, then heartbeats it every second.
func OpenIngest(cfg IngestConfig) (*IngestNode, error) {
	if cfg.NodeID == "" || len(cfg.Seeds) == 0 {
		return nil, fmt.Errorf("cluster: ingest node needs a node id and --seeds")
	}
	if err := CheckPeerURLs("--seeds", cfg.ClusterTLS != nil, cfg.Seeds...); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = broker.DefaultRaft.ApplyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &IngestNode{
		cfg: cfg, peers: newPeers(cfg.Key, peerCredentials(cfg.ClusterTLS, anyHTTPS(cfg.Seeds))), http: peerHTTPClient(cfg.ClusterTLS),
		kick: make(chan struct{}, 1), grpcOf: map[string]string{}, sources: map[string]*pb.SourceConfig{},
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	var leader broker.Leader = n
	if cfg.ForwardErrors != nil {
		leader = broker.CountForwardErrors(n, cfg.ForwardErrors)
	}
	n.relay = broker.NewRelay(cfg.Batch, leader)
	n.wg.Add(1)
	go n.loop()
	return n, nil
}

// Close stops the node.
func (n *IngestNode) Close() error {
	n.cancel()
	n.relay.Close()
	n.wg.Wait()
	n.peers.close()
	return nil
}

func (n *IngestNode) leaderGRPC() (string, string, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.leaderID, n.leaderAddr, n.leaderAddr != ""
}

func (n *IngestNode) leaderChanged() {
	n.mu.Lock()
	n.leaderID, n.leaderAddr = "", ""
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// selfLeads is false: an ingest node never leads.
func (n *IngestNode) selfLeads() bool { return false }

// Forward sends a batch of its relay to the leader (broker.Leader).
func (n *IngestNode) Forward(ctx context.Context, ops []*pb.Op) ([]*pb.OpResult, uint64, error) {
	return forward(ctx, n, n.peers, ops, n.cfg.Timeout)
}

// CommitIndex is not asked of an ingest node's relay (broker.Leader): it
// has no state to bring up to date.
func (n *IngestNode) CommitIndex(context.Context) (uint64, error) {
	return 0, fmt.Errorf("%w: an ingest node keeps no state", broker.ErrBadRequest)
}

// Ready: the leader answered within the last 5s.
func (n *IngestNode) Ready() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return !n.lastOK.IsZero() && time.Since(n.lastOK) <= healthyWindow
}

// Negative cache of source names (see Source).
const (
	missTTL   = time.Second
	maxMisses = 10000
	// reloadGap spaces miss-triggered reloads: misses for many different
	// names wait for the next one, together, instead of each costing
	// the leader a reload of every source config.
	reloadGap = 200 * time.Millisecond
)

// Source returns the cached config of a source.
// A miss is confirmed with the leader before it is a 404: a source created
// a moment ago is not in the cache until the next heartbeat, and a
// provider takes a 404 as final. Without a leader the answer is 503.
// A confirmed miss is remembered: the same name is 404 without asking the
// leader again (each ask reloads every source config) for missTTL, or
// until a reload brings a new sources version, whichever comes first.
func (n *IngestNode) Source(name string) (broker.Source, error) {
	if c, ok := n.cached(name); ok {
		return broker.SourceOf(name, c), nil
	}
	if !ingest.ValidName(name) || n.knownMissing(name) {
		return broker.Source{}, broker.ErrSourceNotFound
	}
	if !n.Ready() {
		return broker.Source{}, fmt.Errorf("%w: no leader", broker.ErrUnavailable)
	}
	if err := n.refresh.Do(n.refreshSources); err != nil {
		return broker.Source{}, err
	}
	if c, ok := n.cachedOrMiss(name); ok {
		return broker.SourceOf(name, c), nil
	}
	return broker.Source{}, broker.ErrSourceNotFound
}

// knownMissing: a reload less than missTTL ago, with the sources version
// still current, did not have name.
func (n *IngestNode) knownMissing(name string) bool {
	n.mu.RLock()
	at, ok := n.misses[name]
	n.mu.RUnlock()
	return ok && time.Since(at) < missTTL
}

// cachedOrMiss returns name's config, or records the miss. The negative
// cache holds at most maxMisses names; past that it starts over.
func (n *IngestNode) cachedOrMiss(name string) (*pb.SourceConfig, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.sources[name]; ok {
		return c, true
	}
	if n.misses == nil || len(n.misses) >= maxMisses {
		n.misses = map[string]time.Time{}
	}
	n.misses[name] = time.Now()
	return nil, false
}

func (n *IngestNode) cached(name string) (*pb.SourceConfig, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	c, ok := n.sources[name]
	return c, ok
}

// refreshSources reloads every source config from the leader, at most
// once per reloadGap.
func (n *IngestNode) refreshSources() error {
	if wait := time.Until(n.lastReload.Add(reloadGap)); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-n.ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: node closing", broker.ErrUnavailable)
		case <-t.C:
		}
	}
	defer func() { n.lastReload = time.Now() }()
	_, addr, ok := n.leaderGRPC()
	if !ok {
		return fmt.Errorf("%w: no leader", broker.ErrUnavailable)
	}
	c, err := n.peers.client(addr)
	if err != nil {
		return fmt.Errorf("%w: %v", broker.ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(n.ctx, sourcesTimeout)
	defer cancel()
	if err := n.loadSources(ctx, c); err != nil {
		return fmt.Errorf("%w: source configs from the leader: %v", broker.ErrUnavailable, err)
	}
	return nil
}

func (n *IngestNode) loadSources(ctx context.Context, c pb.ClusterClient) error {
	sr, err := c.Sources(n.peers.ctx(ctx), &pb.SourcesRequest{})
	if err != nil {
		return err
	}
	m := make(map[string]*pb.SourceConfig, len(sr.Sources))
	for _, s := range sr.Sources {
		m[s.Name] = s.Config
	}
	n.mu.Lock()
	if sr.Version != n.sourcesVer {
		n.misses = nil // the sources changed: misses must be asked again
	}
	n.sources, n.sourcesVer = m, sr.Version
	n.mu.Unlock()
	return nil
}

// Enqueue forwards one webhook to the leader (batched with others).
func (n *IngestNode) Enqueue(ctx context.Context, req broker.EnqueueRequest) (broker.EnqueueResult, error) {
	return n.relay.Enqueue(ctx, req)
}

func (n *IngestNode) loop() {
	defer n.wg.Done()
	t := time.NewTicker(heartbeatInterval)
	defer t.Stop()
	for {
		n.beat()
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		case <-n.kick:
		}
	}
}

// beat discovers the leader if needed, heartbeats it, and refreshes the
// source configs when their version changed.
func (n *IngestNode) beat() {
	if _, _, ok := n.leaderGRPC(); !ok {
		n.discover()
	}
	id, addr, ok := n.leaderGRPC()
	if !ok {
		return
	}
	c, err := n.peers.client(addr)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, heartbeatInterval)
	defer cancel()
	self := Node{ID: n.cfg.NodeID, HTTPAddr: n.cfg.HTTPAddr, Role: RoleIngest, Version: n.cfg.Version}
	resp, err := c.Heartbeat(n.peers.ctx(ctx), &pb.HeartbeatRequest{Node: self.record()})
	if err != nil {
		if status.Code(err) != codes.Canceled {
			n.cfg.Logger.Debug("heartbeat", "leader", id, "err", err)
			n.leaderChanged()
		}
		return
	}
	n.mu.Lock()
	n.lastOK = time.Now()
	stale := resp.SourcesVersion != n.sourcesVer
	n.mu.Unlock()
	if stale {
		_ = n.loadSources(ctx, c) // tried again on the next beat
	}
}

// discover asks the seeds who leads and where (see seedCluster).
func (n *IngestNode) discover() {
	for _, seed := range n.cfg.Seeds {
		c, err := seedCluster(n.ctx, n.http, seed, n.cfg.Key)
		if err != nil {
			continue
		}
		n.mu.Lock()
		for _, nd := range c.Nodes {
			if nd.GRPCAddr != "" {
				n.grpcOf[nd.ID] = nd.GRPCAddr
			}
		}
		if addr := n.grpcOf[c.Leader]; c.Leader != "" && addr != "" {
			n.leaderID, n.leaderAddr = c.Leader, addr
			n.mu.Unlock()
			return
		}
		n.mu.Unlock()
	}
}
