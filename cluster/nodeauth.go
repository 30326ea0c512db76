package cluster

import (
	"context"
	"crypto/subtle"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hookq/hookq/broker"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
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
	// Public, when set, is the tap handle of every call to another
	// service of the same server (the public API, health, reflection):
	// those are authenticated with tokens, not node keys (api's GRPCTap).
	// Nil lets them through to their own interceptors.
	Public tap.ServerInHandle
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

// Limits of a node's gRPC server (ServerOptions).
const (
	// GRPCMaxConcurrentStreams bounds the calls in flight on one
	// connection.
	GRPCMaxConcurrentStreams = 64
	// grpcConnectionTimeout bounds a new connection's setup (TLS
	// handshake and HTTP/2 preface).
	grpcConnectionTimeout = 10 * time.Second
)

// ServerOptions are the options of a node's gRPC server that carries the
// Cluster service: message size limits, this authentication (the key is
// checked in a tap handle, from the call's headers, before grpc-go reads
// or allocates the request message; the interceptor then limits the
// ingest credential), at most GRPCMaxConcurrentStreams calls per
// connection, a connection setup deadline, and keepalive enforcement.
// Transport credentials are added by the caller.
func (a NodeAuth) ServerOptions() []grpc.ServerOption {
	return append(broker.GRPCServerOptions(),
		grpc.UnaryInterceptor(a.UnaryInterceptor()),
		grpc.InTapHandle(a.TapHandle),
		grpc.MaxConcurrentStreams(GRPCMaxConcurrentStreams),
		grpc.ConnectionTimeout(grpcConnectionTimeout),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute, Time: time.Minute, Timeout: 20 * time.Second}),
	)
}

// TapHandle refuses a Cluster call that carries neither node key, as
// soon as its headers arrive: the request message is never read. Calls to
// other services go to Public.
func (a NodeAuth) TapHandle(ctx context.Context, info *tap.Info) (context.Context, error) {
	if !strings.HasPrefix(info.FullMethodName, "/"+pb.Cluster_ServiceDesc.ServiceName+"/") {
		if a.Public != nil {
			return a.Public(ctx, info)
		}
		return ctx, nil
	}
	for _, v := range info.Header.Get("authorization") {
		if bearerIs(v, a.ClusterKey) || bearerIs(v, a.IngestKey) {
			return ctx, nil
		}
	}
	return nil, status.Error(codes.Unauthenticated, "no valid node credential")
}

// LimitListener accepts at most n connections of l at once; further
// connections wait in the kernel's accept queue until one closes. n <= 0
// means no limit.
func LimitListener(l net.Listener, n int) net.Listener {
	if n <= 0 {
		return l
	}
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
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
// voter), and for a new one only while fewer than MaxIngestNodeRecords
// ingest nodes are recorded.
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
	known := map[string]bool{}
	for _, have := range records {
		if have.Id == n.ID && have.Role != RoleIngest {
			return status.Errorf(codes.PermissionDenied, "node %q is recorded with role %q", n.ID, have.Role)
		}
		if have.Role == RoleIngest {
			known[have.Id] = true
		}
	}
	if known[n.ID] {
		return nil
	}
	// A new ingest node: records are permanent until removed, so their
	// number is capped (records being written count too).
	m.records.mu.Lock()
	for id := range m.records.pending {
		known[id] = true
	}
	m.records.mu.Unlock()
	if !known[n.ID] && len(known) >= MaxIngestNodeRecords {
		return status.Errorf(codes.ResourceExhausted, "the cluster already records %d ingest nodes (the most): remove stale ones with DELETE /v1/cluster/nodes/{id}", len(known))
	}
	return nil
}

// MaxIngestNodeRecords caps the ingest-node records the ingest credential
// can create through Heartbeat: a holder of the key could otherwise add
// permanent records without end by heartbeating with new ids.
const MaxIngestNodeRecords = 64
