package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/api/client"
	"github.com/hookq/hookq/broker"
	"google.golang.org/grpc/codes"
)

// TestPublishLeaseCarriesTheMessage publishes text and binary bodies with
// headers and an event id, and leases them back with the same meta over
// both transports; a repeated event id answers the first message's id.
func TestPublishLeaseCarriesTheMessage(t *testing.T) {
	n := apitest.Start(t)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			q := "carry-" + tr.String()
			n.Queue(t, q, nil)
			c := newClient(t, n, tr, "")
			binary := []byte{0xff, 0x00, 0xfe, 'x'}
			ids, err := c.Publish(ctxT(t), q,
				client.Message{Body: []byte(`{"a":"é"}`), ContentType: "application/json", Headers: map[string]string{"X-Kind": "order"}, EventID: "ev-1"},
				client.Message{Body: binary})
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			if len(ids) != 2 || ids[0] == ids[1] {
				t.Fatalf("ids = %v, want two distinct", ids)
			}
			again, err := c.Publish(ctxT(t), q, client.Message{Body: []byte("other"), EventID: "ev-1"})
			if err != nil || len(again) != 1 || again[0] != ids[0] {
				t.Fatalf("republish of ev-1 = %v, %v; want [%s]", again, err, ids[0])
			}
			ds, err := c.Lease(ctxT(t), q, client.LeaseOptions{Max: 10, Wait: time.Second, Visibility: 40 * time.Second})
			if err != nil {
				t.Fatalf("lease: %v", err)
			}
			if len(ds) != 2 {
				t.Fatalf("leased %d, want 2 (the duplicate stores nothing)", len(ds))
			}
			j, b := ds[0], ds[1] // one request's messages keep their order
			if string(j.Payload) != `{"a":"é"}` || j.ContentType != "application/json" || j.Meta.EventID != "ev-1" ||
				j.Meta.Headers["X-Kind"] != "order" || j.Meta.MessageID != ids[0] || j.Meta.Queue != q || j.Meta.Attempt != 1 {
				t.Errorf("first delivery = %+v", j)
			}
			if !bytes.Equal(b.Payload, binary) || b.ContentType != "application/octet-stream" || b.Meta.MessageID != ids[1] {
				t.Errorf("binary delivery = %+v", b)
			}
			if left := time.Until(j.Meta.LeaseExpiresAt); left < 30*time.Second || left > 41*time.Second {
				t.Errorf("lease ends in %v, want about 40s (the asked visibility)", left)
			}
			if j.Meta.ReceivedAt.IsZero() || j.Meta.DeliveryID == "" || j.Meta.DeliveryID == b.Meta.DeliveryID {
				t.Errorf("meta = %+v", j.Meta)
			}
		})
	}
}

// TestSettleOneByOne runs ack, nack (queue backoff, a delay, at once),
// reject and extend on single deliveries over both transports, and what
// each leaves behind: redelivery with attempt 2, the DLQ with the reason,
// a lease moved, and lease_expired for a second settlement.
func TestSettleOneByOne(t *testing.T) {
	n := apitest.Start(t)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			q := "one-" + tr.String()
			fastQueue(t, n, q, nil)
			c := newClient(t, n, tr, "")
			ids := publish(t, c, q, 4)
			ds, err := c.Lease(ctxT(t), q, client.LeaseOptions{Max: 4, Visibility: 5 * time.Second})
			if err != nil || len(ds) != 4 {
				t.Fatalf("lease: %d, %v", len(ds), err)
			}
			byID := map[string]client.Delivery{}
			for _, d := range ds {
				byID[d.Meta.MessageID] = d
			}
			ack, nack, rej, ext := byID[ids[0]], byID[ids[1]], byID[ids[2]], byID[ids[3]]

			if err := c.Ack(ctxT(t), q, ack.Meta.DeliveryID); err != nil {
				t.Fatalf("ack: %v", err)
			}
			if err := c.Ack(ctxT(t), q, ack.Meta.DeliveryID); !client.IsLeaseExpired(err) {
				t.Fatalf("second ack = %v, want lease_expired", err)
			}
			if err := c.Nack(ctxT(t), q, nack.Meta.DeliveryID, client.NackOptions{Delay: client.Immediately, Reason: "later"}); err != nil {
				t.Fatalf("nack: %v", err)
			}
			if err := c.Reject(ctxT(t), q, rej.Meta.DeliveryID, "bad payload"); err != nil {
				t.Fatalf("reject: %v", err)
			}
			if err := c.Extend(ctxT(t), q, ext.Meta.DeliveryID, time.Minute); err != nil {
				t.Fatalf("extend: %v", err)
			}
			m, _, err := n.Broker.Message(q, ids[3])
			if err != nil {
				t.Fatalf("message %s: %v", ids[3], err)
			}
			if m.State != broker.StateInflight {
				t.Errorf("extended message state %s, want inflight", m.State)
			}

			// The nacked message is back at once, as attempt 2.
			again, err := c.Lease(ctxT(t), q, client.LeaseOptions{Max: 10, Wait: 5 * time.Second})
			if err != nil || len(again) != 1 {
				t.Fatalf("lease after nack: %d, %v", len(again), err)
			}
			if again[0].Meta.MessageID != ids[1] || again[0].Meta.Attempt != 2 {
				t.Errorf("redelivered %s attempt %d, want %s attempt 2", again[0].Meta.MessageID, again[0].Meta.Attempt, ids[1])
			}
			// A nack with the queue's backoff (100ms here) brings it back later.
			if err := c.Nack(ctxT(t), q, again[0].Meta.DeliveryID, client.NackOptions{}); err != nil {
				t.Fatalf("nack with queue backoff: %v", err)
			}
			third, err := c.Lease(ctxT(t), q, client.LeaseOptions{Max: 10, Wait: 5 * time.Second})
			if err != nil || len(third) != 1 || third[0].Meta.Attempt != 3 {
				t.Fatalf("lease after backoff nack: %+v, %v", third, err)
			}
			if err := c.Nack(ctxT(t), q, third[0].Meta.DeliveryID, client.NackOptions{Delay: time.Hour}); err != nil {
				t.Fatalf("nack with a delay: %v", err)
			}
			if s := stats(t, n, q); s.Delayed != 1 {
				t.Errorf("delayed = %d after a 1h nack, want 1", s.Delayed)
			}

			// The rejected one is in the DLQ with its reason.
			dl, err := c.Lease(ctxT(t), q+".dlq", client.LeaseOptions{Wait: 5 * time.Second})
			if err != nil || len(dl) != 1 {
				t.Fatalf("lease DLQ: %d, %v", len(dl), err)
			}
			if d := dl[0].Meta.DeadLetter; d == nil || d.Reason != "bad payload" || d.OriginQueue != q || dl[0].Meta.MessageID != ids[2] {
				t.Errorf("dead letter = %+v of %s", dl[0].Meta.DeadLetter, dl[0].Meta.MessageID)
			}
			for _, op := range []func() error{
				func() error { return c.Nack(ctxT(t), q, rej.Meta.DeliveryID, client.NackOptions{}) },
				func() error { return c.Reject(ctxT(t), q, rej.Meta.DeliveryID, "") },
				func() error { return c.Extend(ctxT(t), q, ack.Meta.DeliveryID, time.Minute) },
			} {
				if err := op(); !client.IsLeaseExpired(err) {
					t.Errorf("settling a settled delivery = %v, want lease_expired", err)
				}
			}
		})
	}
}

// TestSettleBatch settles acks, nacks, rejects and extends in one call and
// reads one status per item, stale ones included, over both transports.
func TestSettleBatch(t *testing.T) {
	n := apitest.Start(t)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			q := "batch-" + tr.String()
			fastQueue(t, n, q, nil)
			c := newClient(t, n, tr, "")
			publish(t, c, q, 4)
			ds, err := c.Lease(ctxT(t), q, client.LeaseOptions{Max: 4})
			if err != nil || len(ds) != 4 {
				t.Fatalf("lease: %d, %v", len(ds), err)
			}
			id := func(i int) string { return ds[i].Meta.DeliveryID }
			if err := c.Ack(ctxT(t), q, id(3)); err != nil {
				t.Fatal(err)
			}
			res, err := c.Settle(ctxT(t), q, client.Settlement{
				Acks:    []string{id(0), id(3)},
				Nacks:   []client.NackItem{{DeliveryID: id(1), Delay: time.Hour, Reason: "later"}},
				Rejects: []client.RejectItem{{DeliveryID: id(2), Reason: "no"}, {DeliveryID: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
				Extends: []client.ExtendItem{{DeliveryID: id(0), Visibility: time.Minute}},
			})
			if err != nil {
				t.Fatalf("settle: %v", err)
			}
			want := []client.SettleResult{
				{DeliveryID: id(0), Status: client.SettleOK},
				{DeliveryID: id(3), Status: client.SettleLeaseExpired},
				{DeliveryID: id(1), Status: client.SettleOK},
				{DeliveryID: id(2), Status: client.SettleOK},
				{DeliveryID: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
				{DeliveryID: id(0), Status: client.SettleLeaseExpired},
			}
			if len(res) != len(want) {
				t.Fatalf("results = %+v, want %d", res, len(want))
			}
			for i, w := range want {
				if res[i].DeliveryID != w.DeliveryID {
					t.Errorf("result %d = %+v, want %+v", i, res[i], w)
				}
				if w.Status != "" && res[i].Status != w.Status {
					t.Errorf("result %d = %+v, want %+v", i, res[i], w)
				}
			}
			if s := res[4].Status; s != client.SettleNotFound && s != client.SettleLeaseExpired {
				t.Errorf("unknown delivery status %q, want not_found or lease_expired", s)
			}
			s := stats(t, n, q)
			if s.Acked != 2 || s.Delayed != 1 || s.DeadLettered != 1 || s.Inflight != 0 {
				t.Errorf("stats after batch = %+v", s)
			}
		})
	}
}

// TestErrorsAreTypedAlikeOnBothTransports checks each error code over
// both transports: the code, its HTTP status and gRPC code, and the Is…
// helper.
func TestErrorsAreTypedAlikeOnBothTransports(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "errs", nil)
	n.Queue(t, "tiny", func(c *broker.QueueConfig) { c.MaxDepth = 1 })
	other := n.Token(t, "other", "consume:elsewhere", "publish:elsewhere")
	cases := []struct {
		name   string
		token  string
		call   func(*client.Client) error
		code   string
		status int
		grpc   codes.Code
		is     func(error) bool
	}{
		{"unknown token", "nope", func(c *client.Client) error {
			_, err := c.Lease(ctxT(t), "errs", client.LeaseOptions{})
			return err
		}, client.CodeUnauthenticated, http.StatusUnauthorized, codes.Unauthenticated, client.IsUnauthenticated},
		{"lease without scope", other, func(c *client.Client) error {
			_, err := c.Lease(ctxT(t), "errs", client.LeaseOptions{})
			return err
		}, client.CodeForbidden, http.StatusForbidden, codes.PermissionDenied, client.IsForbidden},
		{"publish without scope", other, func(c *client.Client) error {
			_, err := c.Publish(ctxT(t), "errs", client.Message{Body: []byte("x")})
			return err
		}, client.CodeForbidden, http.StatusForbidden, codes.PermissionDenied, client.IsForbidden},
		{"unknown queue", "", func(c *client.Client) error {
			_, err := c.Lease(ctxT(t), "missing", client.LeaseOptions{})
			return err
		}, client.CodeNotFound, http.StatusNotFound, codes.NotFound, client.IsNotFound},
		{"publish to unknown queue", "", func(c *client.Client) error {
			_, err := c.Publish(ctxT(t), "missing", client.Message{Body: []byte("x")})
			return err
		}, client.CodeNotFound, http.StatusNotFound, codes.NotFound, client.IsNotFound},
		{"visibility under 1s", "", func(c *client.Client) error {
			_, err := c.Lease(ctxT(t), "errs", client.LeaseOptions{Visibility: 10 * time.Millisecond})
			return err
		}, client.CodeBadRequest, http.StatusBadRequest, codes.InvalidArgument, client.IsBadRequest},
		{"extend without visibility", "", func(c *client.Client) error {
			return c.Extend(ctxT(t), "errs", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0)
		}, client.CodeBadRequest, http.StatusBadRequest, codes.InvalidArgument, client.IsBadRequest},
		{"queue full", "", func(c *client.Client) error {
			_, err := c.Publish(ctxT(t), "tiny", client.Message{Body: []byte("1")}, client.Message{Body: []byte("2")})
			if err != nil {
				return err
			}
			_, err = c.Publish(ctxT(t), "tiny", client.Message{Body: []byte("3")})
			return err
		}, client.CodeQueueFull, http.StatusServiceUnavailable, codes.ResourceExhausted, client.IsQueueFull},
	}
	for _, tr := range transports {
		for _, tc := range cases {
			t.Run(tr.String()+"/"+tc.name, func(t *testing.T) {
				err := tc.call(newClient(t, n, tr, tc.token))
				checkErr(t, err, tc.code, tc.status, tc.grpc)
				if !tc.is(err) {
					t.Errorf("helper for %s is false on %v", tc.code, err)
				}
			})
		}
	}
}

// TestUnreachableNodeIsUnavailable: a node nobody listens on is an
// unavailable *Error on both transports, and a cancelled call never
// hangs.
func TestUnreachableNodeIsUnavailable(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			c, err := client.New(client.Options{GRPCTargets: []string{"127.0.0.1:1"}, HTTPURL: "http://127.0.0.1:1", Token: "t", Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = c.Lease(ctx, "q", client.LeaseOptions{})
			checkErr(t, err, client.CodeUnavailable, http.StatusServiceUnavailable, codes.Unavailable)
			if !client.IsUnavailable(err) {
				t.Errorf("IsUnavailable(%v) = false", err)
			}
		})
	}
}

func checkErr(t *testing.T, err error, code string, status int, gc codes.Code) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *client.Error %s", err, err, code)
	}
	if e.Code != code || e.HTTPStatus != status || e.GRPCCode != gc {
		t.Errorf("err = %q code %s http %d grpc %v, want %s %d %v", e, e.Code, e.HTTPStatus, e.GRPCCode, code, status, gc)
	}
	if client.CodeOf(err) != code {
		t.Errorf("CodeOf = %s, want %s", client.CodeOf(err), code)
	}
	if !errors.Is(err, &client.Error{Code: code}) {
		t.Errorf("errors.Is by code %s failed", code)
	}
}

// TestNewRefusesIncompleteOptions: the transport asked for needs its
// address.
func TestNewRefusesIncompleteOptions(t *testing.T) {
	for _, o := range []client.Options{
		{},
		{Transport: client.TransportGRPC, HTTPURL: "http://127.0.0.1:8080"},
		{Transport: client.TransportREST, GRPCTargets: []string{"127.0.0.1:9090"}},
		{HTTPURL: "http://x", CAFile: "/does/not/exist"},
		{GRPCTargets: []string{"no-port"}},
	} {
		if c, err := client.New(o); err == nil {
			_ = c.Close()
			t.Errorf("New(%+v) succeeded", o)
		}
	}
	c, err := client.New(client.Options{HTTPURL: "http://127.0.0.1:8080"})
	if err != nil || c.Transport() != client.TransportREST {
		t.Errorf("HTTP URL alone: %v, transport %v; want REST", err, c.Transport())
	}
	c, err = client.New(client.Options{GRPCTargets: []string{"127.0.0.1:9090"}, HTTPURL: "http://127.0.0.1:8080"})
	if err != nil || c.Transport() != client.TransportGRPC {
		t.Errorf("both: %v, transport %v; want gRPC", err, c.Transport())
	}
	_ = c.Close()
}

// TestSeveralTargetsFailOver: with the first gRPC target down, calls go
// to the next one; when the node it uses goes away (its proxy stops),
// calls move to the other target.
func TestSeveralTargetsFailOver(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "targets", nil)
	first := startProxy(t, n.GRPCAddr)
	second := startProxy(t, n.GRPCAddr)
	dead := "127.0.0.1:1"
	c, err := client.New(client.Options{GRPCTargets: []string{dead, first.addr(), second.addr()}, Token: n.AdminToken, Logger: quietLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Publish(ctxT(t), "targets", client.Message{Body: []byte("1")}); err != nil {
		t.Fatalf("publish with the first target down: %v", err)
	}
	if first.accepted() != 1 || second.accepted() != 0 {
		t.Fatalf("connections: first %d, second %d; want the first live target used", first.accepted(), second.accepted())
	}
	first.stop()
	// The first call after the loss may see it (unavailable); a retry
	// goes to the other target.
	eventually(t, 20*time.Second, "a publish through the second target", func() bool {
		_, err := c.Publish(ctxT(t), "targets", client.Message{Body: []byte("2"), EventID: "two"})
		return err == nil
	})
	if second.accepted() == 0 {
		t.Errorf("the second target was never used")
	}
}
