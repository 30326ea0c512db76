package cluster

import (
	"context"
	"errors"
	"hash/fnv"

	"github.com/hookq/hookq/broker"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// leaderTrailer carries, on a FailedPrecondition answer, the id of the
// leader the answering node knows.
const leaderTrailer = "hookq-leader"

// service is the node-to-node gRPC service.
type service struct {
	pb.UnimplementedClusterServer
	m *Member
}

// Register registers the node-to-node service on s.
func (m *Member) Register(s *grpc.Server) {
	s.RegisterService(m.serviceDesc(), &service{m: m})
}

// notLeaderStatus is the answer of a node that is not the leader.
func (m *Member) notLeaderStatus(ctx context.Context) error {
	_, id := m.raft.LeaderWithID()
	_ = grpc.SetTrailer(ctx, metadata.Pairs(leaderTrailer, string(id)))
	return status.Error(codes.FailedPrecondition, "not leader")
}

func (s *service) Propose(ctx context.Context, req *pb.ProposeRequest) (*pb.ProposeResponse, error) {
	results, index, err := s.m.local.ProposeForwarded(ctx, req.Ops)
	if errors.Is(err, broker.ErrNotLeader) {
		// Not the leader, or leadership moved before any of it was
		// proposed: the caller may safely retry at the new leader.
		return nil, s.m.notLeaderStatus(ctx)
	}
	if err != nil {
		return nil, broker.GRPCStatus(err).Err()
	}
	return &pb.ProposeResponse{Results: results, Index: index}, nil
}

func (s *service) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	m := s.m
	n := nodeOf(req.GetNode())
	if callerOf(ctx) == callerIngest {
		if err := m.ingestMayRecord(n); err != nil {
			return nil, err
		}
	}
	if !m.selfLeads() {
		return nil, m.notLeaderStatus(ctx)
	}
	if n.ID != "" && (n.Role == RoleIngest || m.isMember(n.ID)) {
		m.health.seen(n.ID, req.AppliedIndex)
		m.ensureNodeRecord(n)
	}
	readIndex, ok := m.local.LeaderReadIndex()
	if !ok {
		// A new leader that has not applied its predecessors' entries yet
		// cannot give a read index.
		return nil, status.Error(codes.Unavailable, "leader catching up")
	}
	// CommitIndex is the read index: the last entry the leader's state
	// machine has applied (broker.Broker.LeaderReadIndex), not Raft's
	// commit index.
	return &pb.HeartbeatResponse{CommitIndex: readIndex, LeaderId: m.cfg.Self.ID, SourcesVersion: m.sourcesVersion()}, nil
}

func (s *service) Membership(ctx context.Context, req *pb.MembershipRequest) (*pb.MembershipResponse, error) {
	m := s.m
	if !m.selfLeads() {
		return nil, m.notLeaderStatus(ctx)
	}
	if err := m.membershipLocal(ctx, req); err != nil {
		return nil, broker.GRPCStatus(err).Err()
	}
	return &pb.MembershipResponse{}, nil
}

func (s *service) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	if !s.m.selfLeads() {
		return nil, s.m.notLeaderStatus(ctx)
	}
	info, err := s.m.localCluster()
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	resp := &pb.InfoResponse{Leader: info.Leader, Term: info.Term}
	for _, n := range info.Nodes {
		resp.Nodes = append(resp.Nodes, statusOf(n))
	}
	return resp, nil
}

func (s *service) Sources(context.Context, *pb.SourcesRequest) (*pb.SourcesResponse, error) {
	m, names, err := s.m.local.Sources()
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	resp := &pb.SourcesResponse{Version: versionOf(m, names)}
	for _, n := range names {
		resp.Sources = append(resp.Sources, &pb.NamedSource{Name: n, Config: m[n]})
	}
	return resp, nil
}

// sourcesVersion is a hash of every source config: it changes whenever a
// source does, so ingest nodes know when to fetch them again.
func (m *Member) sourcesVersion() uint64 {
	srcs, names, err := m.local.Sources()
	if err != nil {
		return 0
	}
	return versionOf(srcs, names)
}

func versionOf(m map[string]*pb.SourceConfig, names []string) uint64 {
	h := fnv.New64a()
	for _, n := range names {
		h.Write([]byte(n)) // #nosec G104 -- hash.Hash.Write never returns an error
		h.Write([]byte{0}) // #nosec G104 -- hash.Hash.Write never returns an error
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m[n])
		h.Write(b) // #nosec G104 -- hash.Hash.Write never returns an error
	}
	return h.Sum64()
}
