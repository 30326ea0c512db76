package api

import (
	"context"
	"time"

	"github.com/hookq/hookq/broker"
	pb "github.com/hookq/hookq/proto/raftcmd"
)

// IngestBackend is what an ingest-only node offers (*broker.IngestNode).
type IngestBackend interface {
	Source(name string) (*pb.SourceConfig, error)
	Enqueue(ctx context.Context, req broker.EnqueueRequest) (broker.EnqueueResult, error)
	Ready() bool
}

// NewIngestOnly builds a server for an ingest node: only /hooks/*,
// /healthz, /readyz and /metrics are served.
func NewIngestOnly(cfg Config, ib IngestBackend) *Server {
	cfg.ingestOnly = true
	return New(cfg, ingestOnly{ib})
}

// ingestOnly adapts an IngestBackend to Backend; the routes that would
// reach the other methods are not registered on ingest nodes.
type ingestOnly struct{ IngestBackend }

var errNotServed = errNotFound

func (ingestOnly) Lease(context.Context, string, broker.LeaseOptions) ([]broker.Delivery, error) {
	return nil, errNotServed
}
func (ingestOnly) Settle(context.Context, string, []*pb.SettleItem) ([]broker.SettleItemResult, error) {
	return nil, errNotServed
}
func (ingestOnly) LeaseEnd(string, string) (time.Time, bool, error) {
	return time.Time{}, false, errNotServed
}
func (ingestOnly) PutQueue(context.Context, string, *pb.QueueConfig) (bool, error) {
	return false, errNotServed
}
func (ingestOnly) DeleteQueue(context.Context, string) error { return errNotServed }
func (ingestOnly) Queue(string) (broker.QueueInfo, error)    { return broker.QueueInfo{}, errNotServed }
func (ingestOnly) Queues() ([]broker.QueueInfo, error)       { return nil, errNotServed }
func (ingestOnly) PutSource(context.Context, string, *pb.SourceConfig) (bool, error) {
	return false, errNotServed
}
func (ingestOnly) DeleteSource(context.Context, string) error { return errNotServed }
func (ingestOnly) Sources() (map[string]*pb.SourceConfig, []string, error) {
	return nil, nil, errNotServed
}
func (ingestOnly) CreateToken(context.Context, string, []string) (string, error) {
	return "", errNotServed
}
func (ingestOnly) Tokens() ([]*pb.TokenRecord, error)          { return nil, errNotServed }
func (ingestOnly) DeleteToken(context.Context, string) error   { return errNotServed }
func (ingestOnly) Authenticate(string) (*pb.TokenRecord, bool) { return nil, false }
func (ingestOnly) Messages(string, string, int, string) ([]*pb.MessageRecord, string, error) {
	return nil, "", errNotServed
}
func (ingestOnly) Message(string, string) (*pb.MessageRecord, []byte, error) {
	return nil, nil, errNotServed
}
func (ingestOnly) Replay(context.Context, string, []string, time.Time, time.Time) (int64, error) {
	return 0, errNotServed
}
func (ingestOnly) Redrive(context.Context, string, []string) (int64, error) { return 0, errNotServed }
func (ingestOnly) Purge(context.Context, string) (int64, error)             { return 0, errNotServed }
func (ingestOnly) Cluster() (broker.ClusterInfo, error)                     { return broker.ClusterInfo{}, errNotServed }
func (ingestOnly) Join(context.Context, *pb.NodeRecord) error               { return errNotServed }
func (ingestOnly) RemoveNode(context.Context, string) error                 { return errNotServed }
func (ingestOnly) TransferLeadership(context.Context) error                 { return errNotServed }
