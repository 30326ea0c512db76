package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	refl "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestGRPCPublishLeaseSettle(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "orders", nil)
	ids := e.publish("orders", "one", "two")
	ds := e.lease("orders", 10, 2*time.Second, 0)
	if len(ds) != 2 {
		t.Fatalf("leased %d, want 2", len(ds))
	}
	got := map[string]string{}
	for _, d := range ds {
		got[d.Meta.MessageId] = string(d.Payload)
		if d.Meta.Queue != "orders" || d.Meta.Source != "publish" || d.Meta.Attempt != 1 || d.Meta.LeaseExpiresAt == nil || d.Meta.ReceivedAt == nil || d.ContentType != "application/octet-stream" {
			t.Fatalf("delivery = %v", d)
		}
	}
	if got[ids[0]] != "one" || got[ids[1]] != "two" {
		t.Fatalf("leased %v for ids %v", got, ids)
	}
	resp, err := e.cons.Settle(asT(t, e.AdminToken, 5*time.Second), &hookqv1.SettleRequest{
		Queue: "orders", Acks: []string{ds[0].Meta.DeliveryId, ds[0].Meta.DeliveryId, "nope"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []hookqv1.SettleStatus{hookqv1.SettleStatus_SETTLE_OK, hookqv1.SettleStatus_SETTLE_LEASE_EXPIRED, hookqv1.SettleStatus_SETTLE_NOT_FOUND}
	if len(resp.Results) != len(want) {
		t.Fatalf("results = %v", resp.Results)
	}
	for i, r := range resp.Results {
		if r.Status != want[i] {
			t.Errorf("result %d = %v, want %v", i, r.Status, want[i])
		}
	}
}

// Settle answers in the order acks, nacks, rejects, extends; each action
// takes effect (nack with delay 0 redelivers at once, reject
// dead-letters, extend keeps the lease); OK even when all are stale.
func TestGRPCSettleEveryActionInOrder(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "jobs", nil)
	e.publish("jobs", "a", "b", "c", "d")
	ds := e.lease("jobs", 4, 2*time.Second, 0)
	if len(ds) != 4 {
		t.Fatalf("leased %d, want 4", len(ds))
	}
	id := func(i int) string { return ds[i].Meta.DeliveryId }
	req := &hookqv1.SettleRequest{
		Queue:   "jobs",
		Extends: []*hookqv1.Extend{{DeliveryId: id(3), Visibility: durationpb.New(time.Hour)}},
		Rejects: []*hookqv1.Reject{{DeliveryId: id(2), Reason: "poison"}},
		Nacks:   []*hookqv1.Nack{{DeliveryId: id(1), Delay: durationpb.New(0), Reason: "later"}},
		Acks:    []string{id(0)},
	}
	resp, err := e.cons.Settle(asT(t, e.AdminToken, 5*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		if r.DeliveryId != id(i) || r.Status != hookqv1.SettleStatus_SETTLE_OK {
			t.Fatalf("result %d = %v, want %s OK", i, r, id(i))
		}
	}
	// The nacked one is available again at once, as attempt 2.
	again := e.lease("jobs", 4, 5*time.Second, 0)
	if len(again) != 1 || again[0].Meta.MessageId != ds[1].Meta.MessageId || again[0].Meta.Attempt != 2 {
		t.Fatalf("after nack leased %v, want only %s as attempt 2", again, ds[1].Meta.MessageId)
	}
	// The rejected one is in the dead-letter queue with its origin.
	dead := e.lease("jobs.dlq", 1, 5*time.Second, 0)
	if len(dead) != 1 || dead[0].Meta.DeadLetter == nil || dead[0].Meta.DeadLetter.OriginQueue != "jobs" || dead[0].Meta.DeadLetter.Reason != "poison" {
		t.Fatalf("dead letter = %v", dead)
	}
	// The extended one still holds its lease; every item stale is still OK.
	if _, live, err := e.Broker.LeaseEnd("jobs", id(3)); err != nil || !live {
		t.Fatalf("extended delivery live = %v, %v", live, err)
	}
	resp, err = e.cons.Settle(asT(t, e.AdminToken, 5*time.Second), &hookqv1.SettleRequest{Queue: "jobs", Acks: []string{id(0), id(1)}, Rejects: []*hookqv1.Reject{{DeliveryId: id(2)}}})
	if err != nil {
		t.Fatalf("all-stale settle: %v", err)
	}
	for i, r := range resp.Results {
		if r.Status != hookqv1.SettleStatus_SETTLE_LEASE_EXPIRED {
			t.Fatalf("stale result %d = %v", i, r)
		}
	}
}

// Every public RPC refuses a missing or unknown token (Unauthenticated)
// and a token without the scope (PermissionDenied).
func TestGRPCAuthCodes(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "q1", nil)
	e.Queue(t, "q2", nil)
	consumer := e.Token(t, "consumer", "consume:q1")
	publisher := e.Token(t, "publisher", "publish:q1")
	calls := map[string]func(tok string) error{
		"Publish": func(tok string) error {
			_, err := e.pub.Publish(asT(t, tok, 5*time.Second), &hookqv1.PublishRequest{Queue: "q1", Messages: []*hookqv1.Message{{Body: []byte("x")}}})
			return err
		},
		"Lease": func(tok string) error {
			_, err := e.cons.Lease(asT(t, tok, 5*time.Second), &hookqv1.LeaseRequest{Queue: "q1"})
			return err
		},
		"Settle": func(tok string) error {
			_, err := e.cons.Settle(asT(t, tok, 5*time.Second), &hookqv1.SettleRequest{Queue: "q1", Acks: []string{"x"}})
			return err
		},
		"Consume": func(tok string) error { return consumeStartErr(t, e, tok, "q1") },
	}
	for name, call := range calls {
		wantCode(t, call(""), codes.Unauthenticated)
		wantCode(t, call("not-a-token"), codes.Unauthenticated)
		wrong := consumer
		if name != "Publish" {
			wrong = publisher
		}
		if err := call(wrong); err == nil {
			t.Fatalf("%s with the wrong scope succeeded", name)
		} else {
			wantCode(t, err, codes.PermissionDenied)
		}
	}
	// The right scope on another queue is not enough either.
	_, err := e.cons.Lease(asT(t, consumer, 5*time.Second), &hookqv1.LeaseRequest{Queue: "q2"})
	wantCode(t, err, codes.PermissionDenied)
	// And with it the calls succeed.
	if _, err := e.pub.Publish(asT(t, publisher, 5*time.Second), &hookqv1.PublishRequest{Queue: "q1", Messages: []*hookqv1.Message{{Body: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cons.Lease(asT(t, consumer, 5*time.Second), &hookqv1.LeaseRequest{Queue: "q1"}); err != nil {
		t.Fatal(err)
	}
}

// consumeStartErr opens a Consume stream on q and returns the error that
// ends it before any delivery (nil if a delivery arrives).
func consumeStartErr(t *testing.T, e *grpcEnv, tok, q string) error {
	t.Helper()
	st, err := e.cons.Consume(asT(t, tok, 10*time.Second))
	if err != nil {
		return err
	}
	if err := st.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Start{Start: &hookqv1.Start{Queue: q, Credits: 1}}}); err != nil {
		_, rerr := st.Recv()
		return rerr
	}
	_, err = st.Recv()
	return err
}

func TestGRPCNotFoundAndInvalidArgument(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "q", nil)
	ctx := func() context.Context { return asT(t, e.AdminToken, 5*time.Second) }
	_, err := e.cons.Lease(ctx(), &hookqv1.LeaseRequest{Queue: "missing"})
	wantCode(t, err, codes.NotFound)
	_, err = e.pub.Publish(ctx(), &hookqv1.PublishRequest{Queue: "missing", Messages: []*hookqv1.Message{{Body: []byte("x")}}})
	wantCode(t, err, codes.NotFound)
	_, err = e.pub.Publish(ctx(), &hookqv1.PublishRequest{Queue: "bad name!", Messages: []*hookqv1.Message{{Body: []byte("x")}}})
	wantCode(t, err, codes.NotFound)
	wantCode(t, consumeStartErr(t, e, e.AdminToken, "missing"), codes.NotFound)

	invalid := map[string]func() error{
		"lease max 101": func() error {
			_, err := e.cons.Lease(ctx(), &hookqv1.LeaseRequest{Queue: "q", Max: 101})
			return err
		},
		"lease wait 31s": func() error {
			_, err := e.cons.Lease(ctx(), &hookqv1.LeaseRequest{Queue: "q", Wait: durationpb.New(31 * time.Second)})
			return err
		},
		"lease visibility 500ms": func() error {
			_, err := e.cons.Lease(ctx(), &hookqv1.LeaseRequest{Queue: "q", Visibility: durationpb.New(500 * time.Millisecond)})
			return err
		},
		"extend without visibility": func() error {
			_, err := e.cons.Settle(ctx(), &hookqv1.SettleRequest{Queue: "q", Extends: []*hookqv1.Extend{{DeliveryId: "x"}}})
			return err
		},
		"nack reason too long": func() error {
			_, err := e.cons.Settle(ctx(), &hookqv1.SettleRequest{Queue: "q", Nacks: []*hookqv1.Nack{{DeliveryId: "x", Reason: strings.Repeat("r", 1025)}}})
			return err
		},
		"publish nothing": func() error {
			_, err := e.pub.Publish(ctx(), &hookqv1.PublishRequest{Queue: "q"})
			return err
		},
		"publish 1001 messages": func() error {
			req := &hookqv1.PublishRequest{Queue: "q"}
			for range 1001 {
				req.Messages = append(req.Messages, &hookqv1.Message{Body: []byte("x")})
			}
			_, err := e.pub.Publish(ctx(), req)
			return err
		},
		"publish 257 headers": func() error {
			h := map[string]string{}
			for i := range 257 {
				h[strings.Repeat("h", i+1)] = "v"
			}
			_, err := e.pub.Publish(ctx(), &hookqv1.PublishRequest{Queue: "q", Messages: []*hookqv1.Message{{Body: []byte("x"), Headers: h}}})
			return err
		},
		"publish long event id": func() error {
			_, err := e.pub.Publish(ctx(), &hookqv1.PublishRequest{Queue: "q", Messages: []*hookqv1.Message{{Body: []byte("x"), EventId: strings.Repeat("e", 257)}}})
			return err
		},
		"consume credits 0": func() error { return consumeStart(t, e, &hookqv1.Start{Queue: "q"}) },
		"consume without start": func() error {
			st, err := e.cons.Consume(ctx())
			if err != nil {
				return err
			}
			_ = st.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Credits{Credits: 3}})
			_, err = st.Recv()
			return err
		},
	}
	for name, call := range invalid {
		t.Run(name, func(t *testing.T) { wantCode(t, call(), codes.InvalidArgument) })
	}
	// Nothing of the refused publishes was enqueued.
	if ds := e.lease("q", 100, 0, 0); len(ds) != 0 {
		t.Fatalf("refused publishes enqueued %d messages", len(ds))
	}
}

// consumeStart opens a stream with start and returns the error ending it.
func consumeStart(t *testing.T, e *grpcEnv, start *hookqv1.Start) error {
	t.Helper()
	st, err := e.cons.Consume(asT(t, e.AdminToken, 10*time.Second))
	if err != nil {
		return err
	}
	_ = st.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Start{Start: start}})
	_, err = st.Recv()
	return err
}

// A full queue answers ResourceExhausted (queue_full); so does a body
// over the largest allowed (payload_too_large); nothing is enqueued.
func TestGRPCPublishResourceExhausted(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "small", func(c *broker.QueueConfig) { c.MaxDepth = 1 })
	e.publish("small", "first")
	_, err := e.pub.Publish(asT(t, e.AdminToken, 5*time.Second), &hookqv1.PublishRequest{Queue: "small", Messages: []*hookqv1.Message{{Body: []byte("second")}}})
	wantCode(t, err, codes.ResourceExhausted)
	if c := errCode(err); c != broker.CodeQueueFull {
		t.Fatalf("error code %q, want queue_full", c)
	}
	e.Queue(t, "big", nil)
	_, err = e.pub.Publish(asT(t, e.AdminToken, 20*time.Second), &hookqv1.PublishRequest{Queue: "big", Messages: []*hookqv1.Message{{Body: bytes.Repeat([]byte("x"), broker.MaxBodyBytes+1)}}})
	wantCode(t, err, codes.ResourceExhausted)
	if c := errCode(err); c != broker.CodePayloadTooLarge {
		t.Fatalf("error code %q, want payload_too_large", c)
	}
	if ds := e.lease("big", 10, 0, 0); len(ds) != 0 {
		t.Fatalf("oversized publish enqueued %d", len(ds))
	}
}

// errCode is the public error code a status carries (its ErrorInfo
// reason, domain hookq.v1).
func errCode(err error) string {
	st, _ := status.FromError(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == broker.PublicErrorDomain {
			return info.Reason
		}
	}
	return ""
}

// Publish is durable before OK (the message is readable at once, on the
// node's committed state) and de-duplicates by event id per queue.
func TestGRPCPublishDurableAndDeduplicated(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "a", nil)
	e.Queue(t, "b", nil)
	ctx := asT(t, e.AdminToken, 10*time.Second)
	msg := &hookqv1.Message{Body: []byte(`{"n":1}`), ContentType: "application/json", Headers: map[string]string{"X-Trace": "t1"}, EventId: "evt-1"}
	r1, err := e.pub.Publish(ctx, &hookqv1.PublishRequest{Queue: "a", Messages: []*hookqv1.Message{msg}})
	if err != nil {
		t.Fatal(err)
	}
	m, body, err := e.Broker.Message("a", r1.MessageIds[0])
	if err != nil || string(body) != `{"n":1}` || m.EventID != "evt-1" || string(m.ContentType) != "application/json" {
		t.Fatalf("stored message = %+v %q %v", m, body, err)
	}
	r2, err := e.pub.Publish(ctx, &hookqv1.PublishRequest{Queue: "a", Messages: []*hookqv1.Message{msg}})
	if err != nil || r2.MessageIds[0] != r1.MessageIds[0] {
		t.Fatalf("repeat of evt-1 = %v, %v; want the first id %s", r2, err, r1.MessageIds[0])
	}
	r3, err := e.pub.Publish(ctx, &hookqv1.PublishRequest{Queue: "b", Messages: []*hookqv1.Message{msg}})
	if err != nil || r3.MessageIds[0] == r1.MessageIds[0] {
		t.Fatalf("evt-1 on another queue = %v, %v; want a new message", r3, err)
	}
	ds := e.lease("a", 10, time.Second, 0)
	if len(ds) != 1 || ds[0].Meta.EventId != "evt-1" || ds[0].Meta.Headers["X-Trace"] != "t1" || ds[0].ContentType != "application/json" {
		t.Fatalf("leased %v, want the one message with its meta", ds)
	}
	// The duplicate is not counted as published.
	res, err := http.Get(e.HTTPURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	metrics, _ := io.ReadAll(res.Body)
	for _, want := range []string{`hookq_published_total{queue="a"} 1`, `hookq_published_total{queue="b"} 1`} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// Health is open, SERVING on a ready node and NOT_SERVING once the API
// shuts down; reflection needs a token and lists only the public services.
func TestGRPCHealthAndReflection(t *testing.T) {
	e := newGRPCEnv(t)
	hc := healthpb.NewHealthClient(e.conn)
	for _, svc := range []string{"", "hookq.v1.Consumer", "hookq.v1.Publisher"} {
		r, err := hc.Check(asT(t, "", 5*time.Second), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health %q = %v, %v", svc, r, err)
		}
	}
	rc := refl.NewServerReflectionClient(e.conn)
	list := func(tok string) ([]string, error) {
		st, err := rc.ServerReflectionInfo(asT(t, tok, 5*time.Second))
		if err != nil {
			return nil, err
		}
		// A refused stream may fail Send with io.EOF; Recv has the status.
		_ = st.Send(&refl.ServerReflectionRequest{MessageRequest: &refl.ServerReflectionRequest_ListServices{ListServices: ""}})
		resp, err := st.Recv()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.Name)
		}
		return names, nil
	}
	_, err := list("")
	wantCode(t, err, codes.Unauthenticated)
	names, err := list(e.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(names, ",")
	for _, want := range []string{"hookq.v1.Publisher", "hookq.v1.Consumer", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !strings.Contains(got, want) {
			t.Errorf("reflection lists %s, missing %s", got, want)
		}
	}
	if strings.Contains(got, pb.Cluster_ServiceDesc.ServiceName) {
		t.Errorf("reflection lists the internal service: %s", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.API.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := hc.Check(asT(t, "", 5*time.Second), &healthpb.HealthCheckRequest{})
	if err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health after shutdown = %v, %v", r, err)
	}
}

// The internal node-to-node service on the same server still wants the
// cluster credential: a token, even the admin's, does not open it.
func TestGRPCClusterServiceNeedsClusterKey(t *testing.T) {
	e := newGRPCEnv(t)
	c := pb.NewClusterClient(e.conn)
	_, err := c.Info(asT(t, e.AdminToken, 5*time.Second), &pb.InfoRequest{})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Info with the admin token: %v, want Unauthenticated", err)
	}
	_, err = c.Info(asT(t, brokertest.ClusterKey, 5*time.Second), &pb.InfoRequest{})
	if err != nil {
		t.Fatalf("Info with the cluster key: %v", err)
	}
}

// The largest allowed body (16 MiB) fits the gRPC message limits both
// ways: published in one call and leased back whole.
func TestGRPCLargestBodyRoundTrips(t *testing.T) {
	if testing.Short() {
		t.Skip("16 MiB through Raft")
	}
	e := newGRPCEnv(t)
	e.Queue(t, "big", nil)
	body := bytes.Repeat([]byte("0123456789abcdef"), broker.MaxBodyBytes/16)
	r, err := e.pub.Publish(asT(t, e.AdminToken, 60*time.Second), &hookqv1.PublishRequest{Queue: "big", Messages: []*hookqv1.Message{{Body: body}}})
	if err != nil {
		t.Fatalf("publish %d bytes: %v", len(body), err)
	}
	ds := e.lease("big", 1, 5*time.Second, 0)
	if len(ds) != 1 || ds[0].Meta.MessageId != r.MessageIds[0] || !bytes.Equal(ds[0].Payload, body) {
		t.Fatalf("leased %d deliveries, want the %d-byte body back", len(ds), len(body))
	}
}

// The messages of one Publish are appended, and leased, in request order.
func TestGRPCPublishKeepsRequestOrder(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "fifo", nil)
	var bodies []string
	for i := range 30 {
		bodies = append(bodies, fmt.Sprintf("m%02d", i))
	}
	ids := e.publish("fifo", bodies...)
	ds := e.lease("fifo", 30, 2*time.Second, 0)
	if len(ds) != len(bodies) {
		t.Fatalf("leased %d of %d", len(ds), len(bodies))
	}
	for i, d := range ds {
		if string(d.Payload) != bodies[i] || d.Meta.MessageId != ids[i] {
			t.Fatalf("lease position %d: %q (%s), want %q (%s)", i, d.Payload, d.Meta.MessageId, bodies[i], ids[i])
		}
	}
}
