package broker

import (
	"fmt"
	"net"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hookq/hookq/ingest"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Limits on what one operation may carry. Every operation passes
// validateOp before it is proposed, on the node that received it and again
// on the leader for forwarded batches, so nothing past these bounds (and
// nothing proto cannot encode) ever reaches the Raft log.
const (
	// MaxBodyBytes is the largest webhook body (a source's maxBodyBytes
	// may not exceed it).
	MaxBodyBytes = ingest.MaxMaxBodyBytes
	// MaxHeaderBytes bounds the stored request headers of one webhook,
	// names and values together; MaxHeaders their count.
	MaxHeaderBytes = 64 << 10
	MaxHeaders     = 256
	// MaxOpBytes bounds one encoded operation: a largest body plus its
	// headers and small fields.
	MaxOpBytes = MaxBodyBytes + MaxHeaderBytes + 64<<10
	// MaxBatchItems bounds the deliveries of one lease, the items of one
	// settle and the ids of one replay or redrive.
	MaxBatchItems = 1000
	// MaxReasonBytes bounds a nack or reject reason.
	MaxReasonBytes = 1024
	// MaxIDBytes bounds a delivery or message id (real ones are shorter).
	MaxIDBytes = 128
	// MaxTokenScopes and MaxScopeBytes bound a token's scopes.
	MaxTokenScopes = 64
	MaxScopeBytes  = 256
	// MaxBackoffSteps bounds a queue's backoff list.
	MaxBackoffSteps = 64
	// MaxRetention bounds a queue's retention.
	MaxRetention = 365 * 24 * time.Hour
	// MaxNodeField bounds a node id, address or role.
	MaxNodeField = 256
	// MaxSweepLimit bounds a sweep's per-kind item count.
	MaxSweepLimit = 10000
	// MaxDurationNanos bounds visibilities, delays and extends (12h).
	MaxDurationNanos = storage.MaxLease
	// DeliveryRandBytes is the size of a deliveryId's random part.
	DeliveryRandBytes = 16
)

// validateOp checks op before it is proposed. An invalid name in an op
// that looks something up answers that the thing is not found (a name that
// cannot exist does not exist); every other problem is ErrBadRequest.
func validateOp(op *pb.Op) (size int, err error) {
	if op == nil || op.Kind == nil {
		return 0, fmt.Errorf("%w: empty operation", ErrBadRequest)
	}
	if err := validateKind(op); err != nil {
		return 0, err
	}
	// proto refuses strings that are not valid UTF-8: catch that here, not
	// when the batch is encoded with other callers' work.
	size = proto.Size(op)
	if size > MaxOpBytes {
		return 0, fmt.Errorf("%w: operation of %d bytes is over the limit of %d", ErrBadRequest, size, MaxOpBytes)
	}
	if _, err := (proto.MarshalOptions{}).Marshal(op); err != nil {
		return 0, fmt.Errorf("%w: cannot encode operation: %v", ErrBadRequest, err)
	}
	return size, nil
}

func validateKind(op *pb.Op) error {
	switch k := op.Kind.(type) {
	case *pb.Op_Enqueue:
		return validateEnqueue(k.Enqueue)
	case *pb.Op_Lease:
		return validateLease(k.Lease)
	case *pb.Op_Settle:
		return validateSettle(k.Settle)
	case *pb.Op_PutQueue:
		if k.PutQueue == nil || k.PutQueue.Config == nil {
			return fmt.Errorf("%w: put queue without settings", ErrBadRequest)
		}
		if !ingest.ValidName(k.PutQueue.Name) {
			return fmt.Errorf("%w: invalid queue name", ErrBadRequest)
		}
		return validateQueueConfig(k.PutQueue.Config)
	case *pb.Op_DeleteQueue:
		return lookupName(k.DeleteQueue.GetName(), k.DeleteQueue != nil, ErrQueueNotFound)
	case *pb.Op_PutSource:
		if k.PutSource == nil || k.PutSource.Config == nil {
			return fmt.Errorf("%w: put source without settings", ErrBadRequest)
		}
		if !ingest.ValidName(k.PutSource.Name) {
			return fmt.Errorf("%w: invalid source name", ErrBadRequest)
		}
		return validateSourceConfig(k.PutSource.Config)
	case *pb.Op_DeleteSource:
		return lookupName(k.DeleteSource.GetName(), k.DeleteSource != nil, ErrSourceNotFound)
	case *pb.Op_PutToken:
		return validateToken(k.PutToken.GetToken())
	case *pb.Op_DeleteToken:
		return lookupName(k.DeleteToken.GetName(), k.DeleteToken != nil, ErrTokenNotFound)
	case *pb.Op_Sweep:
		if k.Sweep == nil || k.Sweep.Limit < 0 || k.Sweep.Limit > MaxSweepLimit {
			return fmt.Errorf("%w: sweep limit out of range", ErrBadRequest)
		}
		return nil
	case *pb.Op_Redrive:
		if k.Redrive == nil {
			return fmt.Errorf("%w: empty redrive", ErrBadRequest)
		}
		if err := lookupName(k.Redrive.Queue, true, ErrQueueNotFound); err != nil {
			return err
		}
		return validateIDs(k.Redrive.MessageIds)
	case *pb.Op_Replay:
		if k.Replay == nil {
			return fmt.Errorf("%w: empty replay", ErrBadRequest)
		}
		if err := lookupName(k.Replay.Queue, true, ErrQueueNotFound); err != nil {
			return err
		}
		return validateIDs(k.Replay.MessageIds)
	case *pb.Op_Purge:
		return lookupName(k.Purge.GetQueue(), k.Purge != nil, ErrQueueNotFound)
	case *pb.Op_PutNode:
		return validateNode(k.PutNode.GetNode())
	case *pb.Op_DeleteNode:
		if k.DeleteNode == nil || !validNodeField(k.DeleteNode.Id) {
			return fmt.Errorf("%w: invalid node id", ErrNodeNotFound)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown operation %T", ErrBadRequest, op.Kind)
}

// lookupName: a name that cannot exist is not found.
func lookupName(name string, present bool, notFound error) error {
	if !present || !ingest.ValidName(name) {
		return fmt.Errorf("%w: invalid name", notFound)
	}
	return nil
}

func validateEnqueue(e *pb.Enqueue) error {
	if e == nil {
		return fmt.Errorf("%w: empty enqueue", ErrBadRequest)
	}
	if !ingest.ValidName(e.Source) {
		return fmt.Errorf("%w: invalid source name", ErrBadRequest)
	}
	if len(e.Queues) == 0 || len(e.Queues) > ingest.MaxSourceQueues {
		return fmt.Errorf("%w: an enqueue needs 1..%d queues", ErrBadRequest, ingest.MaxSourceQueues)
	}
	for _, q := range e.Queues {
		if !ingest.ValidName(q) {
			return fmt.Errorf("%w: invalid queue name", ErrBadRequest)
		}
	}
	if len(e.Body) > MaxBodyBytes {
		return fmt.Errorf("%w: body over %d bytes", ErrBadRequest, MaxBodyBytes)
	}
	if len(e.Headers) > MaxHeaders {
		return fmt.Errorf("%w: more than %d headers", ErrBadRequest, MaxHeaders)
	}
	n := len(e.ContentType)
	for _, h := range e.Headers {
		if h == nil {
			return fmt.Errorf("%w: empty header", ErrBadRequest)
		}
		n += len(h.Name) + len(h.Value)
	}
	if n > MaxHeaderBytes {
		return fmt.Errorf("%w: headers over %d bytes", ErrBadRequest, MaxHeaderBytes)
	}
	if len(e.EventId) > ingest.MaxEventIDLen || len(e.DedupKey) > ingest.MaxDedupKeyLen+len("sha256:") {
		return fmt.Errorf("%w: event id or dedup key too long", ErrBadRequest)
	}
	if e.DedupWindowNanos < 0 || e.DedupWindowNanos > int64(ingest.MaxDedupWindow) {
		return fmt.Errorf("%w: dedup window out of range", ErrBadRequest)
	}
	return nil
}

func validateLease(l *pb.Lease) error {
	if l == nil {
		return fmt.Errorf("%w: empty lease", ErrBadRequest)
	}
	if !ingest.ValidName(l.Queue) {
		return fmt.Errorf("%w: invalid queue name", ErrQueueNotFound)
	}
	if len(l.DeliveryRands) == 0 || len(l.DeliveryRands) > MaxBatchItems {
		return fmt.Errorf("%w: a lease takes 1..%d messages", ErrBadRequest, MaxBatchItems)
	}
	for _, r := range l.DeliveryRands {
		if len(r) != DeliveryRandBytes {
			return fmt.Errorf("%w: delivery randomness must be %d bytes", ErrBadRequest, DeliveryRandBytes)
		}
	}
	if l.VisibilityNanos < 0 || l.VisibilityNanos > MaxDurationNanos {
		return fmt.Errorf("%w: visibility out of range", ErrBadRequest)
	}
	return nil
}

func validateSettle(s *pb.Settle) error {
	if s == nil {
		return fmt.Errorf("%w: empty settle", ErrBadRequest)
	}
	if !ingest.ValidName(s.Queue) {
		return fmt.Errorf("%w: invalid queue name", ErrQueueNotFound)
	}
	if len(s.Items) == 0 || len(s.Items) > MaxBatchItems {
		return fmt.Errorf("%w: a settle takes 1..%d items", ErrBadRequest, MaxBatchItems)
	}
	for _, it := range s.Items {
		if it == nil {
			return fmt.Errorf("%w: empty settle item", ErrBadRequest)
		}
		if !validID(it.DeliveryId) {
			return fmt.Errorf("%w: malformed delivery id", ErrDeliveryNotFound)
		}
		switch it.Action {
		case pb.SettleAction_ACK, pb.SettleAction_NACK, pb.SettleAction_REJECT, pb.SettleAction_EXTEND:
		default:
			return fmt.Errorf("%w: unknown settle action %d", ErrBadRequest, it.Action)
		}
		if len(it.Reason) > MaxReasonBytes {
			return fmt.Errorf("%w: reason over %d bytes", ErrBadRequest, MaxReasonBytes)
		}
		if it.DelayNanos < 0 || it.DelayNanos > MaxDurationNanos || it.VisibilityNanos < 0 || it.VisibilityNanos > MaxDurationNanos {
			return fmt.Errorf("%w: delay or visibility out of range", ErrBadRequest)
		}
	}
	return nil
}

func validateQueueConfig(c *pb.QueueConfig) error {
	if c.VisibilityTimeoutNanos < 0 || c.VisibilityTimeoutNanos > MaxDurationNanos {
		return fmt.Errorf("%w: visibilityTimeout out of range", ErrBadRequest)
	}
	if len(c.BackoffNanos) > MaxBackoffSteps {
		return fmt.Errorf("%w: at most %d backoff steps", ErrBadRequest, MaxBackoffSteps)
	}
	for _, b := range c.BackoffNanos {
		if b < 0 || b > MaxDurationNanos {
			return fmt.Errorf("%w: backoff out of range", ErrBadRequest)
		}
	}
	if c.DeadLetterQueue != "" && !ingest.ValidName(c.DeadLetterQueue) {
		return fmt.Errorf("%w: invalid deadLetterQueue name", ErrBadRequest)
	}
	if c.RetentionNanos < 0 || c.RetentionNanos > int64(MaxRetention) {
		return fmt.Errorf("%w: retention out of range", ErrBadRequest)
	}
	if c.MaxDepth < 0 {
		return fmt.Errorf("%w: maxDepth out of range", ErrBadRequest)
	}
	return nil
}

func validateSourceConfig(c *pb.SourceConfig) error {
	if len(c.Queues) > ingest.MaxSourceQueues || len(c.Secrets) > ingest.MaxSecrets {
		return fmt.Errorf("%w: too many queues or secrets", ErrBadRequest)
	}
	for _, q := range c.Queues {
		if !ingest.ValidName(q) {
			return fmt.Errorf("%w: invalid queue name", ErrBadRequest)
		}
	}
	for _, s := range c.Secrets {
		if len(s) > ingest.MaxSecretBytes {
			return fmt.Errorf("%w: secret too long", ErrBadRequest)
		}
	}
	if c.ToleranceNanos < 0 || c.ToleranceNanos > int64(ingest.MaxTolerance) ||
		c.DedupWindowNanos < 0 || c.DedupWindowNanos > int64(ingest.MaxDedupWindow) ||
		c.MaxBodyBytes < 0 || c.MaxBodyBytes > MaxBodyBytes {
		return fmt.Errorf("%w: tolerance, dedup window or maxBodyBytes out of range", ErrBadRequest)
	}
	return nil
}

func validateToken(t *pb.TokenRecord) error {
	if t == nil || !ingest.ValidName(t.Name) || len(t.Sha256) != 32 {
		return fmt.Errorf("%w: invalid token record", ErrBadRequest)
	}
	if len(t.Scopes) == 0 || len(t.Scopes) > MaxTokenScopes {
		return fmt.Errorf("%w: a token needs 1..%d scopes", ErrBadRequest, MaxTokenScopes)
	}
	for _, s := range t.Scopes {
		if len(s) > MaxScopeBytes {
			return fmt.Errorf("%w: scope too long", ErrBadRequest)
		}
	}
	return nil
}

func validateNode(n *pb.NodeRecord) error {
	if n == nil || !validNodeField(n.Id) {
		return fmt.Errorf("%w: invalid node id", ErrBadRequest)
	}
	for _, f := range []string{n.RaftAddr, n.HttpAddr, n.GrpcAddr, n.Role, n.Version} {
		if len(f) > MaxNodeField {
			return fmt.Errorf("%w: node field too long", ErrBadRequest)
		}
	}
	return nil
}

// ValidNodeID reports whether id is one a node can have (validNodeField):
// removing any other id is ErrNodeNotFound on every node.
func ValidNodeID(id string) bool { return validNodeField(id) }

// validNodeField: a node id is 1..256 bytes of printable ASCII.
func validNodeField(s string) bool {
	if s == "" || len(s) > MaxNodeField {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validID: message and delivery ids are short printable ASCII.
func validID(s string) bool {
	return len(s) > 0 && len(s) <= MaxIDBytes && utf8.ValidString(s) && validNodeField(s)
}

func validateIDs(ids []string) error {
	if len(ids) > MaxBatchItems {
		return fmt.Errorf("%w: at most %d message ids", ErrBadRequest, MaxBatchItems)
	}
	for _, id := range ids {
		if !validID(id) {
			return fmt.Errorf("%w: malformed message id", ErrBadRequest)
		}
	}
	return nil
}

// MaxRPCBytes is the largest node-to-node gRPC message either way: a
// forwarded batch (up to the batch byte bound plus one largest op) and the
// leases it answers (MaxLeaseBytes plus one largest body each).
const MaxRPCBytes = 64 << 20

// GRPCServerOptions are the options the node-to-node service needs on
// whatever gRPC server carries it: message sizes that fit a forwarded
// batch of the largest webhooks (gRPC's default is 4 MiB).
func GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxRPCBytes), grpc.MaxSendMsgSize(MaxRPCBytes)}
}

// ValidateJoin checks a joining voter before it enters the Raft
// configuration: a voter that can never be reached counts against the
// quorum until someone removes it. (The cluster package's Member.Join and
// its forwarded-join path call it.)
func ValidateJoin(n *pb.NodeRecord) error {
	if n.GetId() == "" || n.GetRaftAddr() == "" {
		return fmt.Errorf("%w: join needs id and raftAddr", ErrBadRequest)
	}
	if err := validateNode(n); err != nil {
		return err
	}
	if !validHostPort(n.RaftAddr) {
		return fmt.Errorf("%w: raftAddr %q is not host:port", ErrBadRequest, n.RaftAddr)
	}
	for _, a := range []string{n.HttpAddr, n.GrpcAddr} {
		if a != "" && !validHostPort(a) {
			return fmt.Errorf("%w: address %q is not host:port", ErrBadRequest, a)
		}
	}
	return nil
}

// validHostPort: printable ASCII host:port with a non-empty host and a
// port in 1..65535.
func validHostPort(s string) bool {
	if !validNodeField(s) {
		return false
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p > 0 && p < 65536
}
