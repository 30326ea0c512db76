package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
)

// Leader is how a node reaches its cluster's leader. Package cluster
// implements it; cmd/hookq installs it with SetCluster. Without one, a
// node that does not lead answers ErrNotLeader.
type Leader interface {
	// Forward sends ops to the leader in one call and returns their
	// wire results in order and the Raft index of the entry that held
	// them. ErrLeading means this node leads now and nothing was sent;
	// ErrNotLeader that no leader took them (nothing was proposed); any
	// other error that the outcome is unknown.
	Forward(ctx context.Context, ops []*pb.Op) ([]*pb.OpResult, uint64, error)
	// CommitIndex asks the leader for its commit index (a read index).
	CommitIndex(ctx context.Context) (uint64, error)
}

// Membership is the cluster's membership and its view, which the HTTP API
// reaches through the node (Broker.Join, RemoveNode, TransferLeadership,
// Cluster). Package cluster implements it.
type Membership interface {
	Join(ctx context.Context, n *pb.NodeRecord) error
	RemoveNode(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context, to string) error
	Cluster() (ClusterInfo, error)
}

// Cluster is what package cluster gives a voter: the way to the leader,
// membership, and Elected, which the node calls each time it takes office
// and has applied everything committed before its term.
type Cluster interface {
	Leader
	Membership
	Elected()
}

// ErrLeading answers Leader.Forward when the forwarding node itself
// became the leader: its batch must go through its own Raft, never over
// gRPC to itself (that call would wait for a batcher slot its own caller
// holds).
var ErrLeading = errors.New("broker: this node leads now")

// clusterRef holds the installed Cluster.
type clusterRef struct{ v atomic.Pointer[Cluster] }

func (r *clusterRef) get() Cluster {
	if p := r.v.Load(); p != nil {
		return *p
	}
	return nil
}

// SetCluster installs the node's cluster side (see Cluster). A node that
// already leads tells it at once (lead may have run before).
func (b *Broker) SetCluster(c Cluster) {
	if b.obs != nil {
		c = countingLeader{innerCluster: c, errs: b.obs.forwardErrors}
	}
	b.cluster.v.Store(&c)
	if b.IsLeader() {
		c.Elected()
	}
}

var errNoCluster = fmt.Errorf("%w: no cluster attached", ErrNotLeader)

// Join adds a fresh node as a voter (see Membership).
func (b *Broker) Join(ctx context.Context, n Node) error {
	if c := b.cluster.get(); c != nil {
		return c.Join(ctx, n.record())
	}
	return errNoCluster
}

// RemoveNode removes a node from the cluster (see Membership).
func (b *Broker) RemoveNode(ctx context.Context, id string) error {
	if c := b.cluster.get(); c != nil {
		return c.RemoveNode(ctx, id)
	}
	return errNoCluster
}

// TransferLeadership asks the leader to hand leadership to voter to, or
// to any other voter when to is "".
func (b *Broker) TransferLeadership(ctx context.Context, to string) error {
	if c := b.cluster.get(); c != nil {
		return c.TransferLeadership(ctx, to)
	}
	return errNoCluster
}

// Cluster describes the cluster (see Membership).
func (b *Broker) Cluster() (ClusterInfo, error) {
	if c := b.cluster.get(); c != nil {
		return c.Cluster()
	}
	return ClusterInfo{}, errNoCluster
}

// ProposeForwarded runs ops another node forwarded, letting them join this
// leader's batches, and answers their wire results and the highest Raft
// index that held them. ErrNotLeader means none of them was proposed (this
// node does not lead, or lost leadership first): the caller may retry at
// the new leader.
func (b *Broker) ProposeForwarded(ctx context.Context, ops []*pb.Op) ([]*pb.OpResult, uint64, error) {
	if !b.selfLeads() {
		return nil, 0, ErrNotLeader
	}
	outs := b.batcher.proposeLocal(ctx, ops)
	results := make([]*pb.OpResult, len(outs))
	var index uint64
	notLeader := 0
	for i, o := range outs {
		results[i] = encodeResult(o)
		index = max(index, o.index)
		if errors.Is(o.err, ErrNotLeader) {
			notLeader++
		}
	}
	if notLeader == len(outs) {
		return nil, 0, ErrNotLeader
	}
	return results, index, nil
}

// PutNode records a node's addresses and role in the replicated state.
func (b *Broker) PutNode(ctx context.Context, n *pb.NodeRecord) error {
	_, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_PutNode{PutNode: &pb.PutNode{Node: n}}})
	return err
}

// DeleteNode forgets a node's record.
func (b *Broker) DeleteNode(ctx context.Context, id string) error {
	_, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_DeleteNode{DeleteNode: &pb.DeleteNode{Id: id}}})
	return err
}

// Nodes lists the node records of the replicated state.
func (b *Broker) Nodes() ([]*pb.NodeRecord, error) { return b.store.Nodes() }

// RaftError maps Raft's failures to the broker's errors (see raftError).
func RaftError(err error) error { return raftError(err) }

// Relay is a batcher without a Raft node: it groups concurrent operations
// like a voter's and hands every batch to a Leader. Ingest-only nodes
// enqueue through it.
type Relay struct {
	batcher *batcher
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewRelay starts a relay; Close stops it.
func NewRelay(cfg BatchConfig, l Leader) *Relay {
	if cfg == (BatchConfig{}) {
		cfg = DefaultBatch
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Relay{cancel: cancel}
	r.batcher = newBatcher(ctx, cfg, func(ctx context.Context, batch []*proposal) {
		if err := forwardBatch(ctx, l, batch, nil); err != nil {
			// ErrLeading: a relay has no Raft of its own to commit
			// through, so the batch fails (the client may retry).
			fail(batch, fmt.Errorf("%w: %v", ErrUnavailable, err))
		}
	})
	r.wg.Add(1)
	go r.batcher.run(ctx, &r.wg)
	return r
}

// Enqueue forwards one webhook to the leader, batched with others.
func (r *Relay) Enqueue(ctx context.Context, req EnqueueRequest) (EnqueueResult, error) {
	return enqueueVia(ctx, r.batcher, req)
}

// Close stops the relay; proposals still queued answer ErrClosed.
func (r *Relay) Close() {
	r.cancel()
	r.wg.Wait()
}

// forwardBatch sends batch to the leader and answers every proposal; with
// wait set, only once the entries holding them are applied locally too.
// ErrLeading is handed back untouched for the caller to commit itself.
func forwardBatch(ctx context.Context, l Leader, batch []*proposal, wait func(context.Context, uint64)) error {
	ops := make([]*pb.Op, len(batch))
	for i, pr := range batch {
		ops[i] = pr.op
	}
	results, index, err := l.Forward(ctx, ops)
	if errors.Is(err, ErrLeading) {
		return err
	}
	if err != nil {
		fail(batch, err)
		return nil
	}
	if len(results) != len(ops) {
		fail(batch, fmt.Errorf("%w: leader answered %d results for %d ops", ErrUnavailable, len(results), len(ops)))
		return nil
	}
	if wait != nil {
		wctx, cancel := context.WithTimeout(ctx, readYourWritesWait)
		wait(wctx, index)
		cancel()
	}
	for i, pr := range batch {
		pr.done <- outcome{res: decodeResult(pr.op, results[i])}
	}
	return nil
}

// readYourWritesWait bounds how long a forwarding node waits to apply the
// entry holding its forwarded ops before answering. The ops are committed
// either way; the wait only makes the node's own reads current, so it is
// short: a batcher slot must not be held through a leader change.
const readYourWritesWait = time.Second

// LeaderReadIndex is the read index this node, as leader, gives its
// followers: the last entry its state machine has applied. Every
// acknowledged write is at or below it, and unlike Raft's commit index it
// is never a no-op or barrier entry a follower's state machine never sees
// (waiting for one of those kept followers unready after a whole-cluster
// restart). ok is false while a new leader has not applied its
// predecessors' entries yet and cannot give a read index.
func (b *Broker) LeaderReadIndex() (index uint64, ok bool) {
	return b.store.AppliedIndex(), b.readable.Load()
}
