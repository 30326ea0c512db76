package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
)

// consumer is the client side of one Consume stream: it counts the
// deliveries it holds unsettled and the credits it granted, and fails the
// test the moment the server has more unsettled deliveries out than
// credits.
type consumer struct {
	t         *testing.T
	st        hookqv1.Consumer_ConsumeClient
	cancel    context.CancelFunc
	credits   int
	unsettled map[string]*hookqv1.Delivery
	maxSeen   int
}

func (e *grpcEnv) consume(t *testing.T, tok, q string, credits uint32, vis time.Duration) *consumer {
	t.Helper()
	ctx, cancel := context.WithTimeout(as(tok), 60*time.Second)
	t.Cleanup(cancel)
	st, err := e.cons.Consume(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := &hookqv1.Start{Queue: q, Credits: credits}
	if vis > 0 {
		start.Visibility = durationpb.New(vis)
	}
	if err := st.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Start{Start: start}}); err != nil {
		t.Fatal(err)
	}
	return &consumer{t: t, st: st, cancel: cancel, credits: int(credits), unsettled: map[string]*hookqv1.Delivery{}}
}

// recv receives one delivery and checks the credit bound.
func (c *consumer) recv() *hookqv1.Delivery {
	c.t.Helper()
	d, err := c.st.Recv()
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	c.unsettled[d.Meta.DeliveryId] = d
	if len(c.unsettled) > c.maxSeen {
		c.maxSeen = len(c.unsettled)
	}
	if len(c.unsettled) > c.credits {
		c.t.Fatalf("%d unsettled deliveries out with %d credits", len(c.unsettled), c.credits)
	}
	return d
}

// fill receives until the window is full.
func (c *consumer) fill() {
	c.t.Helper()
	for len(c.unsettled) < c.credits {
		c.recv()
	}
}

func (c *consumer) grant(n uint32) {
	c.t.Helper()
	if err := c.st.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Credits{Credits: n}}); err != nil {
		c.t.Fatal(err)
	}
	c.credits += int(n)
}

// ackOnStream acks id with a settlement on the stream.
func (c *consumer) ackOnStream(id string) {
	c.t.Helper()
	if err := c.st.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Settle{Settle: &hookqv1.SettleRequest{Acks: []string{id}}}}); err != nil {
		c.t.Fatal(err)
	}
	delete(c.unsettled, id)
}

// any is one unsettled delivery id.
func (c *consumer) any() string {
	for id := range c.unsettled {
		return id
	}
	c.t.Fatal("nothing unsettled")
	return ""
}

// The credit bound, counted on the client: never more unsettled than
// credits; more credits widen the window; a settlement on the stream, by
// the Settle RPC, by REST and on another stream each free one slot.
func TestGRPCConsumeCreditBound(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "work", nil)
	bodies := make([]string, 20)
	for i := range bodies {
		bodies[i] = fmt.Sprintf("m%d", i)
	}
	e.publish("work", bodies...)
	c := e.consume(t, e.AdminToken, "work", 3, time.Hour)
	c.fill() // 3 out: the server stops there until a slot frees

	c.grant(2) // the window widens to 5
	c.fill()

	c.ackOnStream(c.any()) // a settlement on the stream frees one slot
	c.fill()

	id := c.any() // the Settle RPC frees one
	resp, err := e.cons.Settle(asT(t, e.AdminToken, 5*time.Second), &hookqv1.SettleRequest{Queue: "work", Acks: []string{id}})
	if err != nil || resp.Results[0].Status != hookqv1.SettleStatus_SETTLE_OK {
		t.Fatalf("settle: %v %v", resp, err)
	}
	delete(c.unsettled, id)
	c.fill()

	id = c.any() // so does REST
	req, _ := http.NewRequest(http.MethodPost, e.HTTPURL+"/v1/queues/work/deliveries/"+id+"/ack", nil)
	req.Header.Set("Authorization", "Bearer "+e.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("REST ack: %v %v", res, err)
	}
	res.Body.Close()
	delete(c.unsettled, id)
	c.fill()

	id = c.any() // and so does a settlement sent on another stream
	other := e.consume(t, e.AdminToken, "work", 1, time.Second)
	other.recv()
	other.ackOnStream(id)
	delete(c.unsettled, id)
	c.fill()
	other.cancel() // its own leases (1s) run out

	// The server holds exactly the window: what is leased on the node is
	// what the client holds (no delivery in flight beyond it).
	if c.maxSeen != 5 {
		t.Fatalf("at most %d unsettled seen, want the window of 5", c.maxSeen)
	}
	for id := range c.unsettled {
		if _, live, err := e.Broker.LeaseEnd("work", id); err != nil || !live {
			t.Fatalf("held delivery %s live = %v, %v", id, live, err)
		}
	}
	var inflight int64
	waitFor(t, 10*time.Second, "inflight on the node equals what the client holds", func() bool {
		q, err := e.Broker.Queue("work")
		if err != nil {
			t.Fatal(err)
		}
		inflight = q.Stats.Inflight
		return inflight == int64(len(c.unsettled))
	})
}

// A lease that runs out frees its slot: with one credit and a 1s
// visibility the unsettled delivery comes back (attempt 2) on the same
// stream.
func TestGRPCConsumeLeaseExpiryFreesSlot(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "slow", nil)
	ids := e.publish("slow", "only")
	c := e.consume(t, e.AdminToken, "slow", 1, time.Second)
	d := c.recv()
	if d.Meta.MessageId != ids[0] || d.Meta.Attempt != 1 {
		t.Fatalf("first delivery %v", d.Meta)
	}
	// The client never settles: once the lease ends the slot frees.
	delete(c.unsettled, d.Meta.DeliveryId)
	d2 := c.recv()
	if d2.Meta.MessageId != ids[0] || d2.Meta.Attempt != 2 || d2.Meta.DeliveryId == d.Meta.DeliveryId {
		t.Fatalf("after expiry got %v, want %s attempt 2", d2.Meta, ids[0])
	}
}

// A stream that dies with deliveries unsettled leaves them to their
// leases: they are redelivered after the visibility timeout.
func TestGRPCConsumeDeadStreamRedeliversAfterVisibility(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "jobs", nil)
	ids := e.publish("jobs", "a", "b")
	c := e.consume(t, e.AdminToken, "jobs", 2, time.Second)
	c.fill()
	c.cancel() // the stream dies, nothing settled
	want := map[string]bool{ids[0]: true, ids[1]: true}
	deadline := time.Now().Add(15 * time.Second)
	for len(want) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not redelivered: %v", want)
		}
		for _, d := range e.lease("jobs", 2, 5*time.Second, 0) {
			if !want[d.Meta.MessageId] || d.Meta.Attempt != 2 {
				t.Fatalf("redelivered %v, want one of %v as attempt 2", d.Meta, want)
			}
			delete(want, d.Meta.MessageId)
		}
	}
}

// Shutdown ends open Consume streams with Unavailable (one still waiting
// for its Start too), and a stream opened afterwards is refused
// Unavailable.
func TestGRPCConsumeShutdownIsUnavailable(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "q", nil)
	e.publish("q", "x")
	c := e.consume(t, e.AdminToken, "q", 5, 0)
	c.recv()
	// A stream still waiting for its Start is ended too.
	idle, err := e.cons.Consume(asT(t, e.AdminToken, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.API.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.st.Recv()
	wantCode(t, err, codes.Unavailable)
	_, err = idle.Recv()
	wantCode(t, err, codes.Unavailable)
	wantCode(t, consumeStartErr(t, e, e.AdminToken, "q"), codes.Unavailable)
}

// GracefulStopGRPC (SIGTERM in hookq serve) ends streams with Unavailable.
func TestGRPCGracefulStopEndsStreamsUnavailable(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "q", nil)
	c := e.consume(t, e.AdminToken, "q", 5, 0)
	// Make sure the stream is open on the server: a published message
	// reaches it.
	e.publish("q", "x")
	c.recv()
	done := make(chan struct{})
	go func() {
		e.API.GracefulStopGRPC(e.GRPC, 5*time.Second)
		close(done)
	}()
	_, err := c.st.Recv()
	wantCode(t, err, codes.Unavailable)
	<-done
}

// A token deleted while its stream is open ends the stream with
// Unauthenticated.
func TestGRPCConsumeRevokedTokenIsUnauthenticated(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "q", nil)
	tok := e.Token(t, "worker", "consume:q")
	c := e.consume(t, tok, "q", 1, 0)
	e.publish("q", "x")
	c.recv()
	if err := e.Broker.DeleteToken(context.Background(), "worker"); err != nil {
		t.Fatal(err)
	}
	_, err := c.st.Recv()
	wantCode(t, err, codes.Unauthenticated)
}

// Closing the client's side ends the stream with OK; a settle for
// another queue ends it with InvalidArgument.
func TestGRPCConsumeStreamEnds(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "q", nil)
	c := e.consume(t, e.AdminToken, "q", 1, 0)
	if err := c.st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.st.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after CloseSend: %v, want io.EOF (status OK)", err)
	}
	c = e.consume(t, e.AdminToken, "q", 1, 0)
	if err := c.st.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Settle{Settle: &hookqv1.SettleRequest{Queue: "other", Acks: []string{"x"}}}}); err != nil {
		t.Fatal(err)
	}
	_, err := c.st.Recv()
	wantCode(t, err, codes.InvalidArgument)
}
