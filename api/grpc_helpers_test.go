package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookq/hookq/api/apitest"
	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// grpcEnv is a real node with gRPC clients on its public API.
type grpcEnv struct {
	*apitest.Node
	t    testing.TB
	conn *grpc.ClientConn
	pub  hookqv1.PublisherClient
	cons hookqv1.ConsumerClient
}

func newGRPCEnv(t testing.TB) *grpcEnv {
	t.Helper()
	return grpcEnvOn(t, apitest.Start(t))
}

func grpcEnvOn(t testing.TB, n *apitest.Node) *grpcEnv {
	t.Helper()
	conn, err := grpc.NewClient(n.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &grpcEnv{Node: n, t: t, conn: conn, pub: hookqv1.NewPublisherClient(conn), cons: hookqv1.NewConsumerClient(conn)}
}

// as is a context whose calls carry token (none when "").
func as(token string) context.Context {
	ctx := context.Background()
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// asT is as with a deadline bound to the test.
func asT(t testing.TB, token string, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(as(token), d)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails unless err is a gRPC status with code, and (for the
// codes of the error table) with the matching public error code in its
// ErrorInfo.
func wantCode(t testing.TB, err error, code codes.Code) {
	t.Helper()
	if got := status.Code(err); got != code {
		t.Fatalf("code = %v (%v), want %v", got, err, code)
	}
	want := map[codes.Code][]string{
		codes.Unauthenticated:   {"unauthenticated"},
		codes.PermissionDenied:  {"forbidden"},
		codes.NotFound:          {"not_found"},
		codes.InvalidArgument:   {"bad_request"},
		codes.ResourceExhausted: {"queue_full", "payload_too_large"},
		codes.Unavailable:       {"unavailable"},
	}[code]
	if want == nil {
		return
	}
	got := errCode(err)
	for _, w := range want {
		if got == w {
			return
		}
	}
	t.Fatalf("error code %q (%v), want one of %v", got, err, want)
}

// publish publishes bodies to q as the admin and returns their ids.
func (e *grpcEnv) publish(q string, bodies ...string) []string {
	e.t.Helper()
	req := &hookqv1.PublishRequest{Queue: q}
	for _, b := range bodies {
		req.Messages = append(req.Messages, &hookqv1.Message{Body: []byte(b)})
	}
	resp, err := e.pub.Publish(asT(e.t, e.AdminToken, 10*time.Second), req)
	if err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	if len(resp.MessageIds) != len(bodies) {
		e.t.Fatalf("publish: %d ids for %d messages", len(resp.MessageIds), len(bodies))
	}
	return resp.MessageIds
}

// lease leases up to max deliveries of q as the admin, waiting up to wait.
func (e *grpcEnv) lease(q string, max uint32, wait, vis time.Duration) []*hookqv1.Delivery {
	e.t.Helper()
	req := &hookqv1.LeaseRequest{Queue: q, Max: max, Wait: durationpb.New(wait)}
	if vis > 0 {
		req.Visibility = durationpb.New(vis)
	}
	resp, err := e.cons.Lease(asT(e.t, e.AdminToken, wait+10*time.Second), req)
	if err != nil {
		e.t.Fatalf("lease: %v", err)
	}
	return resp.Deliveries
}
