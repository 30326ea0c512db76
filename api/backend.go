package api

import (
	"context"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/ingest"
)

// The api declares what it needs from a node, role by role (the consumer
// declares its interfaces, as rqlite's http.Store). A voter
// (*broker.Broker) plays every role; an ingest-only node only Ingester.

// Ingester is what POST /hooks/{source} needs.
type Ingester interface {
	Source(name string) (broker.Source, error)
	Enqueue(ctx context.Context, req broker.EnqueueRequest) (broker.EnqueueResult, error)
}

// Consumer is what the consumer routes need: next, lease, settle,
// delivery actions and the SSE stream.
type Consumer interface {
	Lease(ctx context.Context, q string, opt broker.LeaseOptions) ([]broker.Delivery, error)
	Settle(ctx context.Context, q string, items []broker.SettleItem) ([]broker.SettleItemResult, error)
	// LeaseEnd answers whether a delivery still holds its lease, and until when.
	LeaseEnd(q, deliveryID string) (time.Time, bool, error)
	Queue(name string) (broker.QueueInfo, error)
}

// Admin is what the admin routes need: queues, sources, tokens, messages.
type Admin interface {
	PutQueue(ctx context.Context, name string, cfg broker.QueueConfig) (bool, error)
	DeleteQueue(ctx context.Context, name string) error
	Queue(name string) (broker.QueueInfo, error)
	Queues() ([]broker.QueueInfo, error)
	// IsDeadLetterQueue reports whether another queue names q as its
	// dead-letter queue (without computing every queue's stats).
	IsDeadLetterQueue(q string) bool

	PutSource(ctx context.Context, name string, cfg ingest.SourceConfig) (bool, error)
	DeleteSource(ctx context.Context, name string) error
	Source(name string) (broker.Source, error)
	ListSources() ([]broker.Source, error)

	CreateToken(ctx context.Context, name string, scopes []string) (string, error)
	Tokens() ([]broker.Token, error)
	DeleteToken(ctx context.Context, name string) error

	Messages(q, state string, limit int, after string) ([]broker.Message, string, error)
	Message(q, id string) (broker.Message, []byte, error)
	// Replay and Redrive: nil ids select all (or by time); a non-nil
	// empty ids selects none, after the same checks of the queue.
	Replay(ctx context.Context, q string, ids []string, since, until time.Time) (int64, error)
	Redrive(ctx context.Context, dlq string, ids []string) (int64, error)
	Purge(ctx context.Context, q string) (int64, error)
}

// ClusterInfo is what the cluster routes need (GET /v1/cluster and
// membership).
type ClusterInfo interface {
	Cluster() (broker.ClusterInfo, error)
	Join(ctx context.Context, n broker.Node) error
	RemoveNode(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context, to string) error
}

// Backupper is what GET /v1/cluster/backup needs: a consistent snapshot
// of the node's state once it caught up with the leader.
type Backupper interface {
	Backup(ctx context.Context) (*broker.Backup, error)
}

// Authenticator finds the stored token with a secret (consumer and admin
// routes; the SSE stream re-checks with it).
type Authenticator interface {
	Authenticate(secret string) (broker.Token, bool)
}

// Backends are the roles a server serves. Ingester and Ready are
// required; the rest only for a full node (the ingest-only server leaves
// them nil and registers none of their routes).
type Backends struct {
	Ingester Ingester
	Consumer Consumer
	Admin    Admin
	Cluster  ClusterInfo
	Auth     Authenticator
	Backup   Backupper // GET /v1/cluster/backup; nil: 404
	// Ready answers /readyz (and gates the SSE stream).
	Ready func() bool
}

// Node is a node that plays every role (*broker.Broker).
type Node interface {
	Ingester
	Consumer
	Admin
	ClusterInfo
	Authenticator
	Backupper
	Ready() bool
}

var _ Node = (*broker.Broker)(nil)

// BackendsOf is every role played by n.
func BackendsOf(n Node) Backends {
	return Backends{Ingester: n, Consumer: n, Admin: n, Cluster: n, Auth: n, Backup: n, Ready: n.Ready}
}
