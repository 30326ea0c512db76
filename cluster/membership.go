package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hookq/hookq/broker"
	pb "github.com/hookq/hookq/proto/raftcmd"
)

// Join adds a fresh node to the cluster as a voter (on the leader, or
// forwarded to it) and records its addresses.
func (m *Member) Join(ctx context.Context, r *pb.NodeRecord) error {
	n := nodeOf(r)
	if err := ValidateJoin(n); err != nil {
		return err
	}
	n.Role = RoleVoter
	return m.membership(ctx, &pb.MembershipRequest{Kind: pb.MembershipRequest_ADD_VOTER, Node: n.record()})
}

// RemoveNode removes a node from the Raft configuration and forgets its
// record.
func (m *Member) RemoveNode(ctx context.Context, id string) error {
	if !broker.ValidNodeID(id) {
		return fmt.Errorf("%w: invalid node id", broker.ErrNodeNotFound)
	}
	return m.membership(ctx, &pb.MembershipRequest{Kind: pb.MembershipRequest_REMOVE, Node: &pb.NodeRecord{Id: id}})
}

// TransferLeadership asks the leader to hand leadership to voter to, or
// to any other voter when to is "". Naming the leader itself changes
// nothing; naming a node that is not a voter is ErrNodeNotFound.
func (m *Member) TransferLeadership(ctx context.Context, to string) error {
	req := &pb.MembershipRequest{Kind: pb.MembershipRequest_TRANSFER_LEADERSHIP}
	if to != "" {
		if !broker.ValidNodeID(to) {
			return fmt.Errorf("%w: invalid node id", broker.ErrNodeNotFound)
		}
		req.Node = &pb.NodeRecord{Id: to}
	}
	return m.membership(ctx, req)
}

func (m *Member) membership(ctx context.Context, req *pb.MembershipRequest) error {
	if m.selfLeads() {
		return m.membershipLocal(ctx, req)
	}
	_, addr, ok := m.leaderGRPC()
	if !ok {
		return errNoLeader
	}
	c, err := m.peers.client(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if _, err := c.Membership(m.peers.ctx(ctx), req); err != nil {
		if werr, ok := broker.FromGRPC(err); ok {
			return werr
		}
		return fmt.Errorf("%w: %v", broker.ErrUnavailable, err)
	}
	return nil
}

func (m *Member) membershipLocal(ctx context.Context, req *pb.MembershipRequest) error {
	timeout := m.cfg.Timeout
	switch req.Kind {
	case pb.MembershipRequest_ADD_VOTER:
		n := nodeOf(req.Node)
		// Checked again here: a forwarded join must not make an
		// unreachable voter (it would count against the quorum).
		if err := ValidateJoin(n); err != nil {
			return err
		}
		if err := m.raft.AddVoter(raft.ServerID(n.ID), raft.ServerAddress(n.RaftAddr), 0, timeout).Error(); err != nil {
			return broker.RaftError(err)
		}
		return m.local.PutNode(ctx, n.record())
	case pb.MembershipRequest_REMOVE:
		// The record goes first: once a leader removes itself its Raft
		// shuts down and can propose nothing more.
		id := req.GetNode().GetId()
		if !broker.ValidNodeID(id) {
			return fmt.Errorf("%w: invalid node id", broker.ErrNodeNotFound)
		}
		known := m.isMember(id)
		err := m.local.DeleteNode(ctx, id)
		if errors.Is(err, broker.ErrNodeNotFound) && known {
			err = nil
		}
		if err != nil || !known {
			return err
		}
		m.health.forget(id)
		if err := m.raft.RemoveServer(raft.ServerID(id), 0, timeout).Error(); err != nil {
			return broker.RaftError(err)
		}
		return nil
	case pb.MembershipRequest_TRANSFER_LEADERSHIP:
		return m.transferLocal(req.GetNode().GetId())
	}
	return fmt.Errorf("%w: unknown membership change %v", broker.ErrBadRequest, req.Kind)
}

// Cluster describes the cluster as the leader sees it (health and applied
// indexes come from heartbeats): a follower asks the leader, and falls
// back to its own view when no leader answers.
func (m *Member) Cluster() (broker.ClusterInfo, error) {
	if !m.selfLeads() {
		if info, err := m.leaderCluster(); err == nil {
			return info, nil
		}
	}
	return m.localCluster()
}

func (m *Member) leaderCluster() (broker.ClusterInfo, error) {
	_, addr, ok := m.leaderGRPC()
	if !ok {
		return broker.ClusterInfo{}, broker.ErrNotLeader
	}
	c, err := m.peers.client(addr)
	if err != nil {
		return broker.ClusterInfo{}, err
	}
	ctx, cancel := context.WithTimeout(m.ctx, time.Second)
	defer cancel()
	resp, err := c.Info(m.peers.ctx(ctx), &pb.InfoRequest{})
	if err != nil {
		return broker.ClusterInfo{}, err
	}
	info := broker.ClusterInfo{Leader: resp.Leader, Term: resp.Term}
	for _, s := range resp.Nodes {
		info.Nodes = append(info.Nodes, infoOfStatus(s))
	}
	return info, nil
}

// localCluster is this node's own view of the cluster.
func (m *Member) localCluster() (broker.ClusterInfo, error) {
	_, leaderID := m.raft.LeaderWithID()
	info := broker.ClusterInfo{Leader: string(leaderID), Term: m.raft.CurrentTerm()}
	records, err := m.local.Nodes()
	if err != nil {
		return info, err
	}
	byID := map[string]Node{}
	for _, r := range records {
		byID[r.Id] = nodeOf(r)
	}
	leading := m.selfLeads()
	status := func(n *broker.NodeInfo) {
		switch {
		case n.ID == m.cfg.Self.ID:
			n.Healthy = leading || m.heardFromLeader()
			n.AppliedIndex = m.raft.AppliedIndex()
		case leading:
			n.Healthy, n.AppliedIndex = m.health.get(n.ID, healthyWindow)
		default:
			n.Healthy = n.ID == string(leaderID) && m.heardFromLeader()
		}
	}
	for _, s := range m.raftServers() {
		node, suffrage := serverNode(s)
		if r, ok := byID[node.ID]; ok {
			node.HTTPAddr, node.GRPCAddr, node.Version = r.HTTPAddr, r.GRPCAddr, r.Version
			delete(byID, node.ID)
		}
		n := node.info(suffrage)
		status(&n)
		info.Nodes = append(info.Nodes, n)
	}
	for _, r := range records {
		if node, ok := byID[r.Id]; ok {
			n := node.info("none")
			status(&n)
			info.Nodes = append(info.Nodes, n)
		}
	}
	return info, nil
}

// transferLocal hands this leader's office to voter to ("" for any).
func (m *Member) transferLocal(to string) error {
	f := m.raft.LeadershipTransfer
	if to != "" {
		cfg := m.raft.GetConfiguration()
		if err := cfg.Error(); err != nil {
			return fmt.Errorf("%w: %v", broker.ErrUnavailable, err)
		}
		var target *raft.Server
		for _, srv := range cfg.Configuration().Servers {
			if string(srv.ID) == to && srv.Suffrage == raft.Voter {
				target = &srv
			}
		}
		switch {
		case target == nil:
			return fmt.Errorf("%w: %s is not a voter", broker.ErrNodeNotFound, to)
		case m.selfLeads() && to == m.cfg.Self.ID:
			return nil
		}
		f = func() raft.Future { return m.raft.LeadershipTransferToServer(target.ID, target.Address) }
	}
	if err := f().Error(); err != nil {
		return fmt.Errorf("%w: %v", broker.ErrUnavailable, err)
	}
	return nil
}
