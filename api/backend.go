package api

import (
	"context"
	"time"

	"github.com/hookq/hookq/broker"
	pb "github.com/hookq/hookq/proto/raftcmd"
)

// Backend is what the API needs from a node (*broker.Broker implements it).
type Backend interface {
	Enqueue(ctx context.Context, req broker.EnqueueRequest) (broker.EnqueueResult, error)
	Lease(ctx context.Context, q string, opt broker.LeaseOptions) ([]broker.Delivery, error)
	Settle(ctx context.Context, q string, items []*pb.SettleItem) ([]broker.SettleItemResult, error)
	LeaseEnd(q, deliveryID string) (time.Time, bool, error)

	PutQueue(ctx context.Context, name string, cfg *pb.QueueConfig) (bool, error)
	DeleteQueue(ctx context.Context, name string) error
	Queue(name string) (broker.QueueInfo, error)
	Queues() ([]broker.QueueInfo, error)

	PutSource(ctx context.Context, name string, cfg *pb.SourceConfig) (bool, error)
	DeleteSource(ctx context.Context, name string) error
	Source(name string) (*pb.SourceConfig, error)
	Sources() (map[string]*pb.SourceConfig, []string, error)

	CreateToken(ctx context.Context, name string, scopes []string) (string, error)
	Tokens() ([]*pb.TokenRecord, error)
	DeleteToken(ctx context.Context, name string) error
	Authenticate(secret string) (*pb.TokenRecord, bool)

	Messages(q, state string, limit int, after string) ([]*pb.MessageRecord, string, error)
	Message(q, id string) (*pb.MessageRecord, []byte, error)
	Replay(ctx context.Context, q string, ids []string, since, until time.Time) (int64, error)
	Redrive(ctx context.Context, dlq string, ids []string) (int64, error)
	Purge(ctx context.Context, q string) (int64, error)

	Cluster() (broker.ClusterInfo, error)
	Join(ctx context.Context, n *pb.NodeRecord) error
	RemoveNode(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context) error
	Ready() bool
}

var _ Backend = (*broker.Broker)(nil)
