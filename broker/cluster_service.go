package broker

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// clusterService is the node-to-node gRPC service.
type clusterService struct {
	pb.UnimplementedClusterServer
	b *Broker
}

// RegisterGRPC registers the node-to-node service on s.
func (b *Broker) RegisterGRPC(s *grpc.Server) {
	s.RegisterService(b.clusterServiceDesc(), &clusterService{b: b})
}

func (s *clusterService) Propose(ctx context.Context, req *pb.ProposeRequest) (*pb.ProposeResponse, error) {
	if s.b.raft.State() != raft.Leader {
		return nil, s.b.notLeaderStatus(ctx)
	}
	outs := s.b.batcher.proposeLocal(ctx, req.Ops)
	resp := &pb.ProposeResponse{Results: make([]*pb.OpResult, len(outs))}
	notLeader := 0
	for i, o := range outs {
		resp.Results[i] = encodeResult(o)
		resp.Index = max(resp.Index, o.index)
		if errors.Is(o.err, ErrNotLeader) {
			notLeader++
		}
	}
	if notLeader == len(outs) {
		// Leadership moved before any of it was proposed: the caller may
		// safely retry at the new leader.
		return nil, s.b.notLeaderStatus(ctx)
	}
	return resp, nil
}

func (s *clusterService) Heartbeat(ctx context.Context, req *pb.HeartbeatRequest) (*pb.HeartbeatResponse, error) {
	b := s.b
	if callerOf(ctx) == callerIngest {
		if err := b.ingestMayRecord(req.Node); err != nil {
			return nil, err
		}
	}
	if b.raft.State() != raft.Leader {
		return nil, b.notLeaderStatus(ctx)
	}
	if n := req.Node; n != nil && n.Id != "" && (n.Role == "ingest" || b.isMember(n.Id)) {
		b.health.seen(n.Id, req.AppliedIndex)
		b.ensureNodeRecord(n)
	}
	if !b.readable.Load() {
		// A new leader that has not applied its predecessors' entries yet
		// cannot give a read index.
		return nil, status.Error(codes.Unavailable, "leader catching up")
	}
	// CommitIndex is the read index: the last entry the leader's state
	// machine has applied. Every acknowledged write is at or below it, and
	// unlike Raft's commit index it is never a no-op or barrier entry that
	// a follower's state machine never sees (waiting for one of those
	// kept followers unready after a whole-cluster restart).
	return &pb.HeartbeatResponse{CommitIndex: b.store.AppliedIndex(), LeaderId: b.cfg.NodeID, SourcesVersion: b.sourcesVersion()}, nil
}

func (s *clusterService) Membership(ctx context.Context, req *pb.MembershipRequest) (*pb.MembershipResponse, error) {
	b := s.b
	if b.raft.State() != raft.Leader {
		return nil, b.notLeaderStatus(ctx)
	}
	if err := b.membershipLocal(ctx, req); err != nil {
		return nil, status.Error(codes.Aborted, errorCode(err)+": "+err.Error())
	}
	return &pb.MembershipResponse{}, nil
}

func (s *clusterService) Info(ctx context.Context, _ *pb.InfoRequest) (*pb.InfoResponse, error) {
	if s.b.raft.State() != raft.Leader {
		return nil, s.b.notLeaderStatus(ctx)
	}
	info, err := s.b.localCluster()
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	resp := &pb.InfoResponse{Leader: info.Leader, Term: info.Term}
	for _, n := range info.Nodes {
		resp.Nodes = append(resp.Nodes, &pb.NodeStatus{
			Node:     &pb.NodeRecord{Id: n.ID, RaftAddr: n.RaftAddr, HttpAddr: n.HTTPAddr, GrpcAddr: n.GRPCAddr, Role: n.Role, Version: n.Version},
			Suffrage: n.Suffrage, Healthy: n.Healthy, AppliedIndex: n.AppliedIndex,
		})
	}
	return resp, nil
}

func (s *clusterService) Sources(context.Context, *pb.SourcesRequest) (*pb.SourcesResponse, error) {
	m, names, err := s.b.store.Sources()
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
func (b *Broker) sourcesVersion() uint64 {
	m, names, err := b.store.Sources()
	if err != nil {
		return 0
	}
	return versionOf(m, names)
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
