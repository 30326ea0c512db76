package api

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hookq/hookq/broker"
	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	v1reflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alphareflectiongrpc "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Limits and settings of the public gRPC API (docs/API.md §11).
const (
	// MaxGRPCMessageBytes is the largest message the gRPC server receives
	// or sends. It is the limit of the node-to-node service on the same
	// server too; clients should raise their receive limit to it
	// (grpc.MaxCallRecvMsgSize), since one delivery can be as large as
	// the largest webhook body.
	MaxGRPCMessageBytes = broker.MaxRPCBytes
	// MaxPublishBytes bounds the bodies of one Publish together: one
	// largest allowed body (broker.MaxBodyBytes), or several smaller ones.
	MaxPublishBytes = broker.MaxBodyBytes
	// MaxPublishMessages bounds the messages of one Publish.
	MaxPublishMessages = 1000
	// maxGRPCLease bounds LeaseRequest.max.
	maxGRPCLease = 100
	// GRPCKeepaliveMinTime is the shortest keepalive ping interval a
	// client may use; a client pinging more often is disconnected
	// (GOAWAY "too_many_pings").
	GRPCKeepaliveMinTime = 10 * time.Second
	// healthPoll is how often the health service re-reads readiness (on
	// a follower that asks the leader for its commit index).
	healthPoll = time.Second
)

// Public gRPC services, by full method prefix. Calls to any other service
// of the same server (the node-to-node one) are not this package's.
var (
	publisherPrefix  = "/" + hookqv1.Publisher_ServiceDesc.ServiceName + "/"
	consumerPrefix   = "/" + hookqv1.Consumer_ServiceDesc.ServiceName + "/"
	reflectionPrefix = "/grpc.reflection."
	healthPrefix     = "/" + healthpb.Health_ServiceDesc.ServiceName + "/"
)

// needsToken says whether a call to method authenticates with a token:
// the hookq.v1 services and reflection do; health is open, as /healthz
// and /readyz are.
func needsToken(method string) bool {
	return strings.HasPrefix(method, publisherPrefix) || strings.HasPrefix(method, consumerPrefix) ||
		strings.HasPrefix(method, reflectionPrefix)
}

// grpcState is the gRPC side of a Server.
type grpcState struct {
	health *health.Server
	once   sync.Once
	done   chan struct{}
}

// RegisterGRPC registers the public gRPC API on gs: the Publisher and
// Consumer services of hookq.v1 (sharing this Server's authentication,
// streams and metrics), the standard health service (SERVING while the
// node is ready) and server reflection of the public services. Build gs
// with GRPCServerOptions. Call it once per Server.
func (s *Server) RegisterGRPC(gs *grpc.Server) {
	hookqv1.RegisterPublisherServer(gs, publisherService{s: s})
	hookqv1.RegisterConsumerServer(gs, consumerService{s: s})
	healthpb.RegisterHealthServer(gs, s.grpc.health)
	files := &publicFiles{}
	ropts := reflection.ServerOptions{Services: publicServices{gs}, DescriptorResolver: files}
	v1reflectiongrpc.RegisterServerReflectionServer(gs, reflection.NewServerV1(ropts))
	v1alphareflectiongrpc.RegisterServerReflectionServer(gs, reflection.NewServer(ropts))
	files.fill(publicServices{gs}) // the reflection services are among them
	last := s.updateHealth(healthpb.HealthCheckResponse_UNKNOWN)
	go s.watchHealth(last)
}

// publicServices lists only the public services to reflection: the
// node-to-node service stays out of grpcurl's view.
type publicServices struct{ gs *grpc.Server }

func (p publicServices) GetServiceInfo() map[string]grpc.ServiceInfo {
	out := map[string]grpc.ServiceInfo{}
	for name, info := range p.gs.GetServiceInfo() {
		m := "/" + name + "/"
		if needsToken(m) || strings.HasPrefix(m, healthPrefix) {
			out[name] = info
		}
	}
	return out
}

// publicFiles resolves, for reflection, only the proto files of the public
// services and the files they import: asked for a symbol or a file of the
// node-to-node service, reflection answers NotFound.
type publicFiles struct{ allowed map[string]bool }

// fill allows the files of p's services (before the server serves).
func (pf *publicFiles) fill(p publicServices) {
	pf.allowed = map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if pf.allowed[fd.Path()] {
			return
		}
		pf.allowed[fd.Path()] = true
		for i := range fd.Imports().Len() {
			add(fd.Imports().Get(i).FileDescriptor)
		}
	}
	for name := range p.GetServiceInfo() {
		if d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name)); err == nil {
			add(d.ParentFile())
		}
	}
}

func (pf *publicFiles) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if !pf.allowed[path] {
		return nil, protoregistry.NotFound
	}
	return protoregistry.GlobalFiles.FindFileByPath(path)
}

func (pf *publicFiles) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		return nil, err
	}
	if !pf.allowed[d.ParentFile().Path()] {
		return nil, protoregistry.NotFound
	}
	return d, nil
}

// watchHealth keeps the health service's status in step with readiness
// until Shutdown, which leaves every service NOT_SERVING.
func (s *Server) watchHealth(last healthpb.HealthCheckResponse_ServingStatus) {
	t := time.NewTicker(healthPoll)
	defer t.Stop()
	for {
		select {
		case <-s.grpc.done:
			return
		case <-t.C:
		}
		last = s.updateHealth(last)
	}
}

// updateHealth sets the services' status from readiness when it differs
// from last, and returns it.
func (s *Server) updateHealth(last healthpb.HealthCheckResponse_ServingStatus) healthpb.HealthCheckResponse_ServingStatus {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if s.ready() {
		st = healthpb.HealthCheckResponse_SERVING
	}
	if st != last {
		for _, svc := range []string{"", hookqv1.Publisher_ServiceDesc.ServiceName, hookqv1.Consumer_ServiceDesc.ServiceName} {
			s.grpc.health.SetServingStatus(svc, st)
		}
	}
	return st
}

// shutdownGRPC stops the health watcher and reports NOT_SERVING from now
// on (Shutdown calls it).
func (s *Server) shutdownGRPC() {
	s.grpc.once.Do(func() {
		close(s.grpc.done)
		s.grpc.health.Shutdown()
	})
}

// GRPCServerOptions are the options a gRPC server carrying this API needs:
// token authentication of the public services (interceptors), message
// size limits (MaxGRPCMessageBytes), keepalive enforcement and server
// pings. They combine with cluster.NodeAuth's options (whose tap handle
// takes GRPCTap for the public services). Transport credentials are the
// caller's.
func (s *Server) GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.unaryAuth),
		grpc.ChainStreamInterceptor(s.streamAuth),
		grpc.MaxRecvMsgSize(MaxGRPCMessageBytes),
		grpc.MaxSendMsgSize(MaxGRPCMessageBytes),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: GRPCKeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute, Time: time.Minute, Timeout: 20 * time.Second}),
	}
}

// GracefulStopGRPC stops gs: it first ends this Server's streams (Consume
// streams end with Unavailable, so clients reconnect elsewhere) and
// reports NOT_SERVING, then lets in-flight calls finish for at most
// timeout, then closes what is left.
func (s *Server) GracefulStopGRPC(gs *grpc.Server, timeout time.Duration) {
	s.streams.closeAll()
	s.shutdownGRPC()
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		gs.Stop()
		<-done
	}
}

// principalKey carries a call's principal in its context.
type principalKey struct{}

// GRPCTap authenticates a call to the public services as soon as its
// headers arrive, before its request message is read; it is the Public
// tap of cluster.NodeAuth. A call without a valid token is refused
// Unauthenticated. The interceptors authenticate calls that did not pass
// through it.
func (s *Server) GRPCTap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if !needsToken(info.FullMethodName) {
		return ctx, nil
	}
	p, err := s.bearerPrincipal(info.Header.Get("authorization"))
	if err != nil {
		return nil, grpcError(err)
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

// bearerPrincipal is the caller named by the authorization metadata.
func (s *Server) bearerPrincipal(values []string) (principal, error) {
	const prefix = "Bearer "
	for _, h := range values {
		if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
			return s.tokenPrincipal(strings.TrimSpace(h[len(prefix):]))
		}
	}
	return principal{}, errUnauthenticated
}

// grpcAuthenticate puts the call's principal in ctx (the tap may have).
func (s *Server) grpcAuthenticate(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(principalKey{}).(principal); ok {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	p, err := s.bearerPrincipal(md.Get("authorization"))
	if err != nil {
		return nil, err
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

// grpcAuthorize is the principal of the call in ctx when it holds scope
// kind on queue q.
func grpcAuthorize(ctx context.Context, kind, q string) (principal, error) {
	p, ok := ctx.Value(principalKey{}).(principal)
	if !ok {
		return principal{}, errUnauthenticated
	}
	if !p.can(kind, q) {
		return principal{}, errForbidden
	}
	return p, nil
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if !needsToken(info.FullMethod) {
		return h(ctx, req)
	}
	ctx, err := s.grpcAuthenticate(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	resp, err := h(ctx, req)
	if err != nil {
		return nil, s.grpcFailure(info.FullMethod, err)
	}
	return resp, nil
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if !needsToken(info.FullMethod) {
		return h(srv, ss)
	}
	ctx, err := s.grpcAuthenticate(ss.Context())
	if err != nil {
		return grpcError(err)
	}
	if err := h(srv, &ctxStream{ServerStream: ss, ctx: ctx}); err != nil {
		return s.grpcFailure(info.FullMethod, err)
	}
	return nil
}

// ctxStream is a server stream with the authenticated context.
type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *ctxStream) Context() context.Context { return c.ctx }

// grpcError is err as a status of the one error table
// (broker.PublicGRPCStatus); an error that already is a status passes
// unchanged.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return broker.PublicGRPCStatus(err).Err()
}

// grpcFailure is grpcError for a handler's error, with internal errors
// logged and their text hidden (as the HTTP API does).
func (s *Server) grpcFailure(method string, err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, err.Error())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// The caller's deadline passed: its own doing, not a fault here.
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	if broker.Classify(err).GRPCCode == codes.Internal {
		s.log.Error("grpc call failed", "method", method, "err", err)
		return broker.PublicGRPCStatus(errors.New("internal error")).Err()
	}
	return broker.PublicGRPCStatus(err).Err()
}
