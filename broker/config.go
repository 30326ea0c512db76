package broker

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/hookq/hookq/internal/tlsutil"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is one node's settings, filled by cmd/hookq from flags and env.
type Config struct {
	NodeID   string
	DataDir  string
	RaftAddr string // bind and advertise address host:port
	// Peers is the initial voter set id → raft address, identical on every
	// initial voter; empty means a fresh node bootstraps a cluster of itself.
	// Ignored once the node has state.
	Peers map[string]string
	// NoBootstrap leaves a fresh node waiting to be added (--join).
	NoBootstrap bool
	// ClusterKey, without ClusterTLS, authenticates every connection to
	// the Raft port with a challenge-response on this key before Raft
	// sees it (transport.go). (Node-to-node gRPC takes its key from
	// package cluster's Config.)
	ClusterKey string
	// ClusterTLS, when set, makes the Raft transport mutual TLS against
	// its CA: it accepts only voter certificates of the CA. (Node-to-node
	// gRPC is package cluster's, configured there.)
	ClusterTLS *tlsutil.Cluster

	Batch  BatchConfig
	Raft   RaftTuning
	Logger *slog.Logger
	// Registry, if set, receives the node's metrics
	// (hookq_fsm_rejected_ops_total); they are unregistered on Close.
	Registry prometheus.Registerer
	// Version is this node's release (hookq version), named in its
	// backups. (Its node record carries it through cluster.Node.Version.)
	Version string
}

// BatchConfig bounds one Raft entry built by the leader batcher.
type BatchConfig struct {
	MaxOps      int           // operations per entry
	MaxBytes    int           // encoded bytes per entry
	Linger      time.Duration // wait for more operations once one arrives
	MaxInFlight int           // entries proposed but not yet applied
}

// RaftTuning holds the Raft settings chosen for this workload.
type RaftTuning struct {
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	MaxAppendEntries   int
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration
	TrailingLogs       uint64
	ApplyTimeout       time.Duration
}

// DefaultBatch and DefaultRaft are the defaults; see docs/ARCHITECTURE.md §8.
var (
	DefaultBatch = BatchConfig{MaxOps: 1024, MaxBytes: 4 << 20, Linger: 0, MaxInFlight: 4}
	DefaultRaft  = RaftTuning{
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      20 * time.Millisecond,
		MaxAppendEntries:   256,
		SnapshotThreshold:  8192,
		SnapshotInterval:   30 * time.Second,
		TrailingLogs:       10240,
		ApplyTimeout:       10 * time.Second,
	}
)

func (c *Config) validate() error {
	if c.NodeID == "" {
		return fmt.Errorf("broker: node id is required")
	}
	if c.DataDir == "" {
		return fmt.Errorf("broker: data dir is required")
	}
	if c.RaftAddr == "" {
		return fmt.Errorf("broker: raft address is required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Batch == (BatchConfig{}) {
		c.Batch = DefaultBatch
	}
	if c.Raft == (RaftTuning{}) {
		c.Raft = DefaultRaft
	}
	if len(c.Peers) > 0 {
		if _, ok := c.Peers[c.NodeID]; !ok {
			return fmt.Errorf("broker: --peers does not name this node %q", c.NodeID)
		}
	}
	return nil
}
