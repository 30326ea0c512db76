package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/internal/tlsutil"
	pb "github.com/hookq/hookq/proto/raftcmd"
)

const (
	heartbeatInterval = time.Second
	healthyWindow     = 5 * time.Second
)

// Local is what a Member needs of its own node (*broker.Broker).
type Local interface {
	Raft() *raft.Raft
	// ProposeForwarded runs ops forwarded by another node on this leader.
	ProposeForwarded(ctx context.Context, ops []*pb.Op) ([]*pb.OpResult, uint64, error)
	PutNode(ctx context.Context, n *pb.NodeRecord) error
	DeleteNode(ctx context.Context, id string) error
	Nodes() ([]*pb.NodeRecord, error)
	Sources() (map[string]*pb.SourceConfig, []string, error)
	// LeaderReadIndex is the read index this leader answers heartbeats
	// with; ok is false while it is still catching up.
	LeaderReadIndex() (index uint64, ok bool)
}

var _ Local = (*broker.Broker)(nil)

// Config is a voter's cluster side, filled by cmd/hookq.
type Config struct {
	Self Node // this node: id and advertised Raft, HTTP and gRPC addresses
	// Key authenticates this node's calls to its peers (--cluster-key).
	Key string
	// TLS, when set, makes gRPC calls to peers mutual TLS with this
	// node's certificate, and the Cluster service refuses callers without
	// a verified one.
	TLS *tlsutil.Cluster
	// PublicTLS says, when TLS is nil, that peers serve gRPC over TLS
	// with a public certificate (--tls-cert): calls to them verify it
	// against the system roots and the peer's advertised host.
	PublicTLS bool
	// Timeout bounds one forwarded batch or membership change
	// (default broker.DefaultRaft.ApplyTimeout).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Member is a voter's cluster side: it forwards its node's batches to the
// leader, heartbeats the leader, keeps (as leader) the health table and
// the node records, runs membership changes, and serves the Cluster gRPC
// service (Register). It implements broker.Cluster.
type Member struct {
	cfg     Config
	local   Local
	raft    *raft.Raft
	peers   *peers
	health  *healthTable
	records recordWriter

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ broker.Cluster = (*Member)(nil)

// NewMember starts a voter's cluster side over local: it heartbeats the
// leader every second while local follows. Close stops it.
func NewMember(local Local, cfg Config) (*Member, error) {
	if err := cfg.Self.validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = broker.DefaultRaft.ApplyTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Self.Role = RoleVoter
	m := &Member{
		cfg: cfg, local: local, raft: local.Raft(),
		peers:   newPeers(cfg.Key, peerCredentials(cfg.TLS, cfg.PublicTLS)),
		health:  newHealthTable(),
		records: recordWriter{pending: map[string]bool{}},
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(1)
	go m.heartbeats()
	return m, nil
}

// Close stops the heartbeats and closes the connections to peers.
func (m *Member) Close() {
	m.cancel()
	m.wg.Wait()
	m.peers.close()
}

// Forward sends ops to the leader (broker.Leader).
func (m *Member) Forward(ctx context.Context, ops []*pb.Op) ([]*pb.OpResult, uint64, error) {
	return forward(ctx, m, m.peers, ops, m.cfg.Timeout)
}

// CommitIndex asks the leader for its commit index with a heartbeat
// (broker.Leader).
func (m *Member) CommitIndex(ctx context.Context) (uint64, error) {
	hb, err := m.heartbeat(ctx)
	if err != nil {
		return 0, err
	}
	return hb.CommitIndex, nil
}

// Elected records this node's addresses once it leads (broker.Cluster).
func (m *Member) Elected() { m.ensureNodeRecord(m.cfg.Self) }

func (m *Member) selfLeads() bool { return m.raft.State() == raft.Leader }

// leaderChanged is a no-op for voters: Raft tells them the leader.
func (m *Member) leaderChanged() {}

// leaderGRPC resolves the leader through Raft and the node records of the
// replicated state.
func (m *Member) leaderGRPC() (string, string, bool) {
	_, id := m.raft.LeaderWithID()
	if id == "" {
		return "", "", false
	}
	if string(id) == m.cfg.Self.ID {
		return string(id), m.cfg.Self.GRPCAddr, true
	}
	records, err := m.local.Nodes()
	if err != nil {
		return "", "", false
	}
	for _, r := range records {
		if r.Id == string(id) && r.GrpcAddr != "" {
			return r.Id, r.GrpcAddr, true
		}
	}
	return string(id), "", false
}

// heartbeats reports to the leader every second while this node follows;
// the answer's commit index feeds readiness.
func (m *Member) heartbeats() {
	defer m.wg.Done()
	t := time.NewTicker(heartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		if m.selfLeads() {
			continue
		}
		ctx, cancel := context.WithTimeout(m.ctx, heartbeatInterval)
		_, _ = m.heartbeat(ctx)
		cancel()
	}
}

func (m *Member) heartbeat(ctx context.Context) (*pb.HeartbeatResponse, error) {
	_, addr, ok := m.leaderGRPC()
	if !ok {
		return nil, broker.ErrNotLeader
	}
	c, err := m.peers.client(addr)
	if err != nil {
		return nil, err
	}
	return c.Heartbeat(m.peers.ctx(ctx), &pb.HeartbeatRequest{Node: m.cfg.Self.record(), AppliedIndex: m.raft.AppliedIndex()})
}

// recordWriter proposes node records the leader learns from heartbeats,
// once per change.
type recordWriter struct {
	mu      sync.Mutex
	pending map[string]bool
}

// ensureNodeRecord makes the replicated node record of n match, without
// blocking the heartbeat that reported it.
func (m *Member) ensureNodeRecord(n Node) {
	records, err := m.local.Nodes()
	if err != nil {
		return
	}
	for _, have := range records {
		if have.Id == n.ID && nodeOf(have) == n {
			return
		}
	}
	m.records.mu.Lock()
	if m.records.pending[n.ID] {
		m.records.mu.Unlock()
		return
	}
	m.records.pending[n.ID] = true
	m.records.mu.Unlock()
	go func() {
		defer func() {
			m.records.mu.Lock()
			delete(m.records.pending, n.ID)
			m.records.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Timeout)
		defer cancel()
		if err := m.local.PutNode(ctx, n.record()); err != nil {
			m.cfg.Logger.Debug("recording node", "node", n.ID, "err", err)
		}
	}()
}

// isMember reports whether id is in the Raft configuration.
func (m *Member) isMember(id string) bool {
	for _, s := range m.raftServers() {
		if string(s.ID) == id {
			return true
		}
	}
	return false
}

func (m *Member) raftServers() []raft.Server {
	f := m.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	return f.Configuration().Servers
}

// heardFromLeader reports whether a follower heard from the leader within
// the health window.
func (m *Member) heardFromLeader() bool {
	return time.Since(m.raft.LastContact()) <= healthyWindow
}

// healthTable is the leader's memory of when it last heard from each node.
type healthTable struct {
	mu   sync.Mutex
	last map[string]time.Time
	idx  map[string]uint64
}

func newHealthTable() *healthTable {
	return &healthTable{last: map[string]time.Time{}, idx: map[string]uint64{}}
}

func (h *healthTable) seen(id string, applied uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last[id] = time.Now()
	h.idx[id] = applied
}

// get reports whether id was heard from within window, and its applied index.
func (h *healthTable) get(id string, window time.Duration) (bool, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.last[id]
	return ok && time.Since(t) <= window, h.idx[id]
}

func (h *healthTable) forget(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.last, id)
	delete(h.idx, id)
}

var errNoLeader = fmt.Errorf("%w: no known leader", broker.ErrNotLeader)
