package client_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/api/client"
	"github.com/hookq/hookq/broker"
)

// transports are the two ways a client talks to hookq; tests that must
// behave the same over both run once per transport.
var transports = []client.Transport{client.TransportGRPC, client.TransportREST}

// quietLog keeps the client's reconnect warnings out of test output
// unless -v is given.
func quietLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tLogWriter struct{ t testing.TB }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}

// newClient is a client of n over tr with token (the admin token when
// empty), closed when the test ends.
func newClient(t testing.TB, n *apitest.Node, tr client.Transport, token string) *client.Client {
	t.Helper()
	if token == "" {
		token = n.AdminToken
	}
	c, err := client.New(client.Options{
		GRPCTargets: []string{n.GRPCAddr},
		HTTPURL:     n.HTTPURL,
		Token:       token,
		Transport:   tr,
		Logger:      quietLog(t),
	})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fastQueue creates q with a short backoff, so nacks come back quickly.
func fastQueue(t testing.TB, n *apitest.Node, q string, tune func(*broker.QueueConfig)) {
	t.Helper()
	n.Queue(t, q, func(c *broker.QueueConfig) {
		c.Backoff = []time.Duration{100 * time.Millisecond}
		if tune != nil {
			tune(c)
		}
	})
}

// publish publishes n text messages "m0".."m<n-1>" and returns their ids.
func publish(t testing.TB, c *client.Client, q string, count int) []string {
	t.Helper()
	msgs := make([]client.Message, count)
	for i := range msgs {
		msgs[i] = client.Message{Body: []byte("m" + itoa(i)), ContentType: "text/plain"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, err := c.Publish(ctx, q, msgs...)
	if err != nil {
		t.Fatalf("publish %d to %s: %v", count, q, err)
	}
	if len(ids) != count {
		t.Fatalf("publish %d: got %d ids", count, len(ids))
	}
	return ids
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// stats reads q's stats from the node's own state.
func stats(t testing.TB, n *apitest.Node, q string) broker.Stats {
	t.Helper()
	qi, err := n.Broker.Queue(q)
	if err != nil {
		t.Fatalf("queue %s: %v", q, err)
	}
	return qi.Stats
}

// eventually polls cond every 20ms until it holds, failing the test with
// what after timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
