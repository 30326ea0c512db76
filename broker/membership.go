package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const (
	heartbeatInterval = time.Second
	healthyWindow     = 5 * time.Second
)

// Join adds a fresh node to the cluster as a voter (on the leader, or
// forwarded to it) and records its addresses.
func (b *Broker) Join(ctx context.Context, n *pb.NodeRecord) error {
	if err := validateJoin(n); err != nil {
		return err
	}
	n = proto.Clone(n).(*pb.NodeRecord)
	n.Role = "voter"
	return b.membership(ctx, &pb.MembershipRequest{Kind: pb.MembershipRequest_ADD_VOTER, Node: n})
}

// RemoveNode removes a node from the Raft configuration and forgets its
// record.
func (b *Broker) RemoveNode(ctx context.Context, id string) error {
	if !validNodeField(id) {
		return fmt.Errorf("%w: invalid node id", ErrNodeNotFound)
	}
	return b.membership(ctx, &pb.MembershipRequest{Kind: pb.MembershipRequest_REMOVE, Node: &pb.NodeRecord{Id: id}})
}

// TransferLeadership asks the leader to hand leadership to another voter.
func (b *Broker) TransferLeadership(ctx context.Context) error {
	return b.membership(ctx, &pb.MembershipRequest{Kind: pb.MembershipRequest_TRANSFER_LEADERSHIP})
}

func (b *Broker) membership(ctx context.Context, req *pb.MembershipRequest) error {
	if b.raft.State() == raft.Leader {
		return b.membershipLocal(ctx, req)
	}
	_, addr, ok := b.leaderGRPC()
	if !ok {
		return fmt.Errorf("%w: no known leader", ErrNotLeader)
	}
	c, err := b.peers.client(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Raft.ApplyTimeout)
	defer cancel()
	if _, err := c.Membership(b.peers.ctx(ctx), req); err != nil {
		st := status.Convert(err)
		if st.Code() == codes.Aborted {
			code, _, _ := strings.Cut(st.Message(), ":")
			return fmt.Errorf("%w (%s)", codeError(code), st.Message())
		}
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

// isMember reports whether id is in the Raft configuration.
func (b *Broker) isMember(id string) bool {
	for _, s := range b.raftServers() {
		if string(s.ID) == id {
			return true
		}
	}
	return false
}

func (b *Broker) membershipLocal(ctx context.Context, req *pb.MembershipRequest) error {
	timeout := b.cfg.Raft.ApplyTimeout
	switch req.Kind {
	case pb.MembershipRequest_ADD_VOTER:
		n := req.Node
		// Checked again here: a forwarded join must not make an
		// unreachable voter (it would count against the quorum).
		if err := validateJoin(n); err != nil {
			return err
		}
		if err := b.raft.AddVoter(raft.ServerID(n.Id), raft.ServerAddress(n.RaftAddr), 0, timeout).Error(); err != nil {
			return raftError(err)
		}
		_, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_PutNode{PutNode: &pb.PutNode{Node: n}}})
		return err
	case pb.MembershipRequest_REMOVE:
		// The record goes first: once a leader removes itself its Raft
		// shuts down and can propose nothing more.
		id := req.GetNode().GetId()
		if !validNodeField(id) {
			return fmt.Errorf("%w: invalid node id", ErrNodeNotFound)
		}
		known := b.isMember(id)
		_, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_DeleteNode{DeleteNode: &pb.DeleteNode{Id: id}}})
		if errors.Is(err, ErrNodeNotFound) && known {
			err = nil
		}
		if err != nil || !known {
			return err
		}
		b.health.forget(id)
		if err := b.raft.RemoveServer(raft.ServerID(id), 0, timeout).Error(); err != nil {
			return raftError(err)
		}
		return nil
	case pb.MembershipRequest_TRANSFER_LEADERSHIP:
		if err := b.raft.LeadershipTransfer().Error(); err != nil {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown membership change %v", ErrBadRequest, req.Kind)
}

func (b *Broker) raftServers() []raft.Server {
	f := b.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	return f.Configuration().Servers
}

// recordWriter proposes node records the leader learns from heartbeats,
// once per change.
type recordWriter struct {
	mu      sync.Mutex
	pending map[string]bool
}

// ensureNodeRecord makes the replicated node record of n match, without
// blocking the heartbeat that reported it.
func (b *Broker) ensureNodeRecord(n *pb.NodeRecord) {
	nodes, err := b.store.Nodes()
	if err != nil {
		return
	}
	for _, have := range nodes {
		if have.Id == n.Id && proto.Equal(have, n) {
			return
		}
	}
	b.records.mu.Lock()
	if b.records.pending[n.Id] {
		b.records.mu.Unlock()
		return
	}
	b.records.pending[n.Id] = true
	b.records.mu.Unlock()
	n = proto.Clone(n).(*pb.NodeRecord)
	go func() {
		defer func() {
			b.records.mu.Lock()
			delete(b.records.pending, n.Id)
			b.records.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.Raft.ApplyTimeout)
		defer cancel()
		if _, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_PutNode{PutNode: &pb.PutNode{Node: n}}}); err != nil {
			b.cfg.Logger.Debug("recording node", "node", n.Id, "err", err)
		}
	}()
}

// selfRecord is this node's record.
func (b *Broker) selfRecord() *pb.NodeRecord {
	return &pb.NodeRecord{Id: b.cfg.NodeID, RaftAddr: b.cfg.RaftAddr, HttpAddr: b.cfg.HTTPAddr, GrpcAddr: b.cfg.GRPCAddr, Role: "voter", Version: b.cfg.Version}
}

// heartbeats reports to the leader every second while this node follows;
// the answer's commit index feeds readiness.
func (b *Broker) heartbeats(wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(heartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		if b.raft.State() == raft.Leader {
			continue
		}
		ctx, cancel := context.WithTimeout(b.ctx, heartbeatInterval)
		_, _ = b.heartbeat(ctx)
		cancel()
	}
}

func (b *Broker) heartbeat(ctx context.Context) (*pb.HeartbeatResponse, error) {
	_, addr, ok := b.leaderGRPC()
	if !ok {
		return nil, ErrNotLeader
	}
	c, err := b.peers.client(addr)
	if err != nil {
		return nil, err
	}
	return c.Heartbeat(b.peers.ctx(ctx), &pb.HeartbeatRequest{Node: b.selfRecord(), AppliedIndex: b.raft.AppliedIndex()})
}
