package cluster

import (
	"context"

	"github.com/hookq/hookq/internal/tlsutil"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// serviceDesc is the Cluster service as this node registers it.
// With a cluster identity every method first checks the caller's
// certificate, before the request is decoded and before any interceptor
// runs: a caller without a certificate verified against the cluster CA
// (the gRPC listener asks for one with VerifyClientCertIfGiven, since the
// public API shares the port) is Unauthenticated whatever bearer it holds,
// and Membership also needs a voter certificate.
func (m *Member) serviceDesc() *grpc.ServiceDesc {
	if m.cfg.TLS == nil {
		return &pb.Cluster_ServiceDesc
	}
	d := pb.Cluster_ServiceDesc
	d.Methods = make([]grpc.MethodDesc, len(pb.Cluster_ServiceDesc.Methods))
	for i, m := range pb.Cluster_ServiceDesc.Methods {
		h, voter := m.Handler, m.MethodName == "Membership"
		d.Methods[i] = grpc.MethodDesc{MethodName: m.MethodName, Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			if err := requirePeerCert(ctx, voter); err != nil {
				return nil, err
			}
			return h(srv, ctx, dec, ic)
		}}
	}
	d.Streams = make([]grpc.StreamDesc, len(pb.Cluster_ServiceDesc.Streams))
	for i, s := range pb.Cluster_ServiceDesc.Streams {
		h := s.Handler
		s.Handler = func(srv any, stream grpc.ServerStream) error {
			if err := requirePeerCert(stream.Context(), false); err != nil {
				return err
			}
			return h(srv, stream)
		}
		d.Streams[i] = s
	}
	return &d
}

// requirePeerCert checks that the call came over TLS with a client
// certificate verified against the cluster CA (and, for voter, valid for
// the cluster server name).
func requirePeerCert(ctx context.Context, voter bool) error {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "cluster certificate required")
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || !tlsutil.VerifiedPeer(&ti.State) {
		return status.Error(codes.Unauthenticated, "cluster certificate required")
	}
	if voter && !tlsutil.VoterPeer(&ti.State) {
		return status.Errorf(codes.PermissionDenied, "a voter certificate (valid for %q) is required", tlsutil.ClusterServerName)
	}
	return nil
}

// ServerCredentials are the transport credentials of a node's gRPC
// listener: TLS with tlsutil.Listener when a public pair or a cluster
// identity is set, plaintext (nil) otherwise.
func ServerCredentials(public *tlsutil.Keypair, cluster *tlsutil.Cluster) credentials.TransportCredentials {
	cfg := tlsutil.Listener(public, cluster)
	if cfg == nil {
		return nil
	}
	return credentials.NewTLS(cfg)
}
