package cluster

import (
	"context"
	"crypto/subtle"
	"strings"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// NodeAuth is what the node-to-node gRPC service (Cluster) accepts as a
// bearer. An empty key is never accepted.
type NodeAuth struct {
	// ClusterKey authenticates voters: every Cluster call.
	ClusterKey string
	// IngestKey authenticates ingest nodes. With it a caller may fetch the
	// source configs (Sources), read the leader's view of the cluster
	// (Info), heartbeat for a record of role "ingest" that is not a Raft
	// member (Heartbeat), and propose Enqueue operations (Propose). Nothing
	// else: Membership, and Propose with any other kind of operation, are
	// PermissionDenied.
	IngestKey string
}

// caller is who a Cluster call authenticated as.
type caller int

const (
	callerNone caller = iota
	callerIngest
	callerCluster
)

type callerKey struct{}

// callerOf is who the call in ctx authenticated as. A call that did not
// pass through the interceptor counts as a cluster peer: the interceptor is
// the gate, and a server built without it has no authentication at all.
func callerOf(ctx context.Context) caller {
	if c, ok := ctx.Value(callerKey{}).(caller); ok {
		return c
	}
	return callerCluster
}

// AuthInterceptor rejects node-to-node calls without the cluster key. It is
// NodeAuth{ClusterKey: clusterKey}.UnaryInterceptor().
func AuthInterceptor(clusterKey string) grpc.UnaryServerInterceptor {
	return NodeAuth{ClusterKey: clusterKey}.UnaryInterceptor()
}

// UnaryInterceptor authenticates calls to the Cluster service and limits
// what the ingest credential may do; calls to other services pass through
// untouched.
func (a NodeAuth) UnaryInterceptor() grpc.UnaryServerInterceptor {
	prefix := "/" + pb.Cluster_ServiceDesc.ServiceName + "/"
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, prefix) {
			return h(ctx, req)
		}
		c := a.authenticate(ctx)
		switch c {
		case callerNone:
			return nil, status.Error(codes.Unauthenticated, "no valid node credential")
		case callerIngest:
			if err := ingestMay(info.FullMethod, req); err != nil {
				return nil, err
			}
		}
		return h(context.WithValue(ctx, callerKey{}, c), req)
	}
}

// authenticate compares the bearer with both keys in constant time. When
// the two keys are equal the caller is a cluster peer.
func (a NodeAuth) authenticate(ctx context.Context) caller {
	md, _ := metadata.FromIncomingContext(ctx)
	got := callerNone
	for _, v := range md.Get("authorization") {
		if bearerIs(v, a.ClusterKey) {
			return callerCluster
		}
		if bearerIs(v, a.IngestKey) {
			got = callerIngest
		}
	}
	return got
}

func bearerIs(header, key string) bool {
	return key != "" && subtle.ConstantTimeCompare([]byte(header), []byte("Bearer "+key)) == 1
}

// ingestMay says whether the ingest credential may make this call; the
// Heartbeat record is checked by the handler (it needs the state).
func ingestMay(method string, req any) error {
	switch method {
	case pb.Cluster_Sources_FullMethodName, pb.Cluster_Info_FullMethodName, pb.Cluster_Heartbeat_FullMethodName:
		return nil
	case pb.Cluster_Propose_FullMethodName:
		r, ok := req.(*pb.ProposeRequest)
		if !ok {
			return status.Error(codes.InvalidArgument, "not a propose request")
		}
		for i, op := range r.GetOps() {
			if op.GetEnqueue() == nil {
				return status.Errorf(codes.PermissionDenied, "the ingest credential may only propose enqueues (op %d is not one)", i)
			}
		}
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "the ingest credential may not call %s", method)
}

// ingestMayRecord says whether a caller holding the ingest credential may
// heartbeat for n: only for an ingest node's record, never for a Raft
// member or a record that says otherwise (it must not register or alter a
// voter).
func (m *Member) ingestMayRecord(n Node) error {
	if n.ID == "" || n.Role != RoleIngest {
		return status.Error(codes.PermissionDenied, "the ingest credential may only heartbeat for a node of role ingest")
	}
	if m.isMember(n.ID) {
		return status.Errorf(codes.PermissionDenied, "node %q is a cluster member: not an ingest node", n.ID)
	}
	records, err := m.local.Nodes()
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	for _, have := range records {
		if have.Id == n.ID && have.Role != RoleIngest {
			return status.Errorf(codes.PermissionDenied, "node %q is recorded with role %q", n.ID, have.Role)
		}
	}
	return nil
}
