package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/api/client"
	"github.com/hookq/hookq/broker"
	"go.uber.org/goleak"
)

// consumeInBackground runs c.Consume until the test ends (or stop is
// called) and returns stop, which cancels it and returns its error.
func consumeInBackground(t *testing.T, c *client.Client, q string, h client.Handler, o client.ConsumeOptions) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Consume(ctx, q, h, o) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				err = errors.New("Consume did not return within 60s of its context's end")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// TestConsumeCreditBound: with Concurrency 3 and Prefetch 2, counted in
// the handler, never more than 3 handlers run at once and the node never
// has more than 5 deliveries of the queue unsettled; both bounds are
// reached while handlers are held, and every message is then acked.
func TestConsumeCreditBound(t *testing.T) {
	n := apitest.Start(t)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			q := "bound-" + tr.String()
			n.Queue(t, q, nil)
			c := newClient(t, n, tr, "")
			const total, conc, prefetch = 30, 3, 2
			publish(t, c, q, total)
			gate := make(chan struct{})
			var active, maxActive, maxInflight atomic.Int64
			var handled sync.Map
			h := func(ctx context.Context, d *client.Delivery) error {
				a := active.Add(1)
				defer active.Add(-1)
				setMax(&maxActive, a)
				setMax(&maxInflight, stats(t, n, q).Inflight)
				select {
				case <-gate:
				case <-ctx.Done():
					return ctx.Err()
				}
				setMax(&maxInflight, stats(t, n, q).Inflight)
				handled.Store(d.Meta.MessageID, true)
				return nil
			}
			stop := consumeInBackground(t, c, q, h, client.ConsumeOptions{Concurrency: conc, Prefetch: prefetch})
			eventually(t, 20*time.Second, "3 handlers held and 5 deliveries unsettled", func() bool {
				return active.Load() == conc && stats(t, n, q).Inflight == conc+prefetch
			})
			// Held: the stream must not run ahead of its credits.
			for range 10 {
				setMax(&maxInflight, stats(t, n, q).Inflight)
				time.Sleep(20 * time.Millisecond)
			}
			close(gate)
			eventually(t, 30*time.Second, "all messages acked", func() bool { return stats(t, n, q).Acked == total })
			if err := stop(); err != nil {
				t.Fatalf("Consume: %v", err)
			}
			if got := maxActive.Load(); got != conc {
				t.Errorf("max concurrent handlers = %d, want %d", got, conc)
			}
			if got := maxInflight.Load(); got != conc+prefetch {
				t.Errorf("max unsettled deliveries = %d, want %d", got, conc+prefetch)
			}
			count := 0
			handled.Range(func(any, any) bool { count++; return true })
			if count != total {
				t.Errorf("handled %d distinct messages, want %d", count, total)
			}
		})
	}
}

func setMax(m *atomic.Int64, v int64) {
	for {
		cur := m.Load()
		if v <= cur || m.CompareAndSwap(cur, v) {
			return
		}
	}
}

// TestConsumeHandlerResultSettles: nil acks; Retry nacks with its delay
// and the message comes back as attempt 2; a plain error and a panic nack
// with the queue's backoff; Reject dead-letters with the reason.
func TestConsumeHandlerResultSettles(t *testing.T) {
	n := apitest.Start(t)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			q := "results-" + tr.String()
			fastQueue(t, n, q, nil)
			c := newClient(t, n, tr, "")
			ids, err := c.Publish(ctxT(t), q,
				client.Message{Body: []byte("ok")},
				client.Message{Body: []byte("retry")},
				client.Message{Body: []byte("fail")},
				client.Message{Body: []byte("panic")},
				client.Message{Body: []byte("reject")})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			attempts := map[string][]int{}
			h := func(_ context.Context, d *client.Delivery) error {
				mu.Lock()
				attempts[string(d.Payload)] = append(attempts[string(d.Payload)], d.Meta.Attempt)
				mu.Unlock()
				if d.Meta.Attempt > 1 {
					return nil
				}
				switch string(d.Payload) {
				case "retry":
					return fmt.Errorf("busy: %w", client.Retry(300*time.Millisecond))
				case "fail":
					return errors.New("boom")
				case "panic":
					panic("handler bug")
				case "reject":
					return client.Reject("invalid JSON")
				}
				return nil
			}
			stop := consumeInBackground(t, c, q, h, client.ConsumeOptions{Concurrency: 2})
			eventually(t, 30*time.Second, "four messages acked and one dead-lettered", func() bool {
				s := stats(t, n, q)
				return s.Acked == 4 && s.DeadLettered == 1
			})
			if err := stop(); err != nil {
				t.Fatalf("Consume: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			want := map[string][]int{"ok": {1}, "retry": {1, 2}, "fail": {1, 2}, "panic": {1, 2}, "reject": {1}}
			if fmt.Sprint(attempts) != fmt.Sprint(want) {
				t.Errorf("attempts seen = %v, want %v", attempts, want)
			}
			for i, reason := range map[int]string{1: "busy: retry after 300ms", 2: "boom", 3: "handler panic: handler bug"} {
				m, _, err := n.Broker.Message(q, ids[i])
				if err != nil {
					t.Fatal(err)
				}
				if len(m.Deliveries) != 2 || m.Deliveries[0].Outcome != "nack" || m.Deliveries[0].Reason != reason || m.Deliveries[1].Outcome != "ack" {
					t.Errorf("message %d deliveries = %+v, want nack %q then ack", i, m.Deliveries, reason)
				}
			}
			dl, err := c.Lease(ctxT(t), q+".dlq", client.LeaseOptions{Wait: 5 * time.Second})
			if err != nil || len(dl) != 1 {
				t.Fatalf("lease DLQ: %d, %v", len(dl), err)
			}
			if d := dl[0].Meta.DeadLetter; dl[0].Meta.MessageID != ids[4] || d == nil || d.Reason != "invalid JSON" || d.OriginQueue != q {
				t.Errorf("DLQ delivery %s dead letter %+v", dl[0].Meta.MessageID, dl[0].Meta.DeadLetter)
			}
		})
	}
}

// TestConsumeExtendsSlowHandler: leases of 2s, a handler that works 5s:
// the lease is extended while it works, so the message is delivered once,
// the handler's context is never cancelled, and the ack lands.
func TestConsumeExtendsSlowHandler(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: a 5s handler")
	}
	n := apitest.Start(t)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			t.Parallel()
			q := "slow-" + tr.String()
			n.Queue(t, q, nil)
			c := newClient(t, n, tr, "")
			ids := publish(t, c, q, 1)
			var calls, cancelled atomic.Int64
			h := func(ctx context.Context, d *client.Delivery) error {
				calls.Add(1)
				select {
				case <-time.After(5 * time.Second): // the slow work
					return nil
				case <-ctx.Done():
					cancelled.Add(1)
					return ctx.Err()
				}
			}
			stop := consumeInBackground(t, c, q, h, client.ConsumeOptions{Visibility: 2 * time.Second, Prefetch: -1})
			eventually(t, 30*time.Second, "the slow message acked", func() bool { return stats(t, n, q).Acked == 1 })
			if err := stop(); err != nil {
				t.Fatalf("Consume: %v", err)
			}
			if calls.Load() != 1 || cancelled.Load() != 0 {
				t.Errorf("handler calls %d, cancelled %d; want 1 call, never cancelled", calls.Load(), cancelled.Load())
			}
			m, _, err := n.Broker.Message(q, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			if m.Attempts != 1 || len(m.Deliveries) != 1 || m.Deliveries[0].Outcome != "ack" {
				t.Errorf("message attempts %d deliveries %+v; want one delivery, acked", m.Attempts, m.Deliveries)
			}
		})
	}
}

// TestConsumeReconnectsWhenTheConnectionDies cuts every connection
// between the client and the node twice while Consume runs: the client
// reconnects, and every message published before, between and after the
// cuts is handled and acked.
func TestConsumeReconnectsWhenTheConnectionDies(t *testing.T) {
	n := apitest.Start(t)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			q := "reconnect-" + tr.String()
			n.Queue(t, q, func(c *broker.QueueConfig) { c.VisibilityTimeout = 2 * time.Second })
			target := n.GRPCAddr
			if tr == client.TransportREST {
				target = strings.TrimPrefix(n.HTTPURL, "http://")
			}
			p := startProxy(t, target)
			c, err := client.New(client.Options{GRPCTargets: []string{p.addr()}, HTTPURL: "http://" + p.addr(),
				Token: n.AdminToken, Transport: tr, Logger: quietLog(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			admin := newClient(t, n, tr, "")
			var handled sync.Map
			var calls atomic.Int64
			h := func(_ context.Context, d *client.Delivery) error {
				calls.Add(1)
				handled.Store(d.Meta.MessageID, true)
				return nil
			}
			stop := consumeInBackground(t, c, q, h, client.ConsumeOptions{Concurrency: 4, MaxBackoff: 500 * time.Millisecond})
			var ids []string
			for round := range 3 {
				ids = append(ids, publish(t, admin, q, 10)...)
				eventually(t, 30*time.Second, fmt.Sprintf("round %d handled", round), func() bool {
					for _, id := range ids {
						if _, ok := handled.Load(id); !ok {
							return false
						}
					}
					return true
				})
				if round < 2 {
					p.cut()
				}
			}
			eventually(t, 30*time.Second, "all acked", func() bool { return stats(t, n, q).Acked == int64(len(ids)) })
			if err := stop(); err != nil {
				t.Fatalf("Consume: %v", err)
			}
			if p.accepted() < 3 {
				t.Errorf("proxy accepted %d connections, want a reconnect after each of 2 cuts", p.accepted())
			}
			t.Logf("%d messages, %d handler calls (%d redeliveries)", len(ids), calls.Load(), calls.Load()-int64(len(ids)))
		})
	}
}

// TestConsumeStopLetsRunningHandlersFinish: cancelling Consume's context
// while a handler runs waits for it, acks its message, and hands the
// prefetched deliveries back at once (ready, not in flight).
func TestConsumeStopLetsRunningHandlersFinish(t *testing.T) {
	n := apitest.Start(t)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			q := "stop-" + tr.String()
			n.Queue(t, q, nil)
			c := newClient(t, n, tr, "")
			publish(t, c, q, 3)
			started, release := make(chan struct{}), make(chan struct{})
			var finished, calls atomic.Int64
			h := func(ctx context.Context, d *client.Delivery) error {
				if calls.Add(1) == 1 {
					close(started)
				}
				<-release
				finished.Add(1)
				return ctx.Err() // nil: stopping Consume does not cancel handlers
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			var finishedAtReturn atomic.Int64
			go func() {
				err := c.Consume(ctx, q, h, client.ConsumeOptions{Concurrency: 1, Prefetch: 2})
				finishedAtReturn.Store(finished.Load())
				done <- err
			}()
			<-started
			eventually(t, 10*time.Second, "3 deliveries leased", func() bool { return stats(t, n, q).Inflight == 3 })
			cancel()
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("Consume: %v", err)
			}
			if finishedAtReturn.Load() != 1 {
				t.Errorf("Consume returned before its running handler finished")
			}
			if finished.Load() != 1 || calls.Load() != 1 {
				t.Errorf("handler calls %d finished %d, want 1 and 1", calls.Load(), finished.Load())
			}
			if s := stats(t, n, q); s.Acked != 1 || s.Inflight != 0 || s.Ready != 2 {
				t.Errorf("stats after stop = acked %d inflight %d ready %d; want 1, 0, 2", s.Acked, s.Inflight, s.Ready)
			}
		})
	}
}

// TestConsumeShutdownTimeoutCancelsHandlers: a handler that outlives
// ShutdownTimeout has its context cancelled and Consume returns.
func TestConsumeShutdownTimeoutCancelsHandlers(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "stuck", nil)
	c := newClient(t, n, client.TransportGRPC, "")
	publish(t, c, "stuck", 1)
	started := make(chan struct{})
	var sawCancel atomic.Bool
	h := func(ctx context.Context, _ *client.Delivery) error {
		close(started)
		<-ctx.Done()
		sawCancel.Store(true)
		return ctx.Err()
	}
	stop := consumeInBackground(t, c, "stuck", h, client.ConsumeOptions{ShutdownTimeout: 200 * time.Millisecond})
	<-started
	if err := stop(); err != nil {
		t.Fatalf("Consume: %v", err)
	}
	eventually(t, 5*time.Second, "the handler's context cancelled", sawCancel.Load)
}

// TestConsumeRefusedForGood: an unknown queue or token ends Consume with
// the typed error instead of reconnecting forever.
func TestConsumeRefusedForGood(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "known", nil)
	for _, tr := range transports {
		for _, tc := range []struct {
			name, queue, token string
			is                 func(error) bool
		}{
			{"unknown queue", "missing", "", client.IsNotFound},
			{"unknown token", "known", "bogus", client.IsUnauthenticated},
		} {
			t.Run(tr.String()+"/"+tc.name, func(t *testing.T) {
				c := newClient(t, n, tr, tc.token)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err := c.Consume(ctx, tc.queue, func(context.Context, *client.Delivery) error { return nil }, client.ConsumeOptions{})
				if !tc.is(err) {
					t.Errorf("Consume = %v, want %s", err, tc.name)
				}
			})
		}
	}
}

// TestConsumeLeavesNoGoroutines: once Consume has returned, none of its
// goroutines (workers, stream sender, settlement batcher, lease
// extensions) is left running.
func TestConsumeLeavesNoGoroutines(t *testing.T) {
	n := apitest.Start(t)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			q := "leak-" + tr.String()
			n.Queue(t, q, nil)
			c := newClient(t, n, tr, "")
			publish(t, c, q, 1)
			// The client's connections and the node's goroutines for them
			// exist from here on.
			if _, err := c.Lease(ctxT(t), q, client.LeaseOptions{Max: 1}); err != nil {
				t.Fatal(err)
			}
			ignore := goleak.IgnoreCurrent()
			publish(t, c, q, 20)
			stop := consumeInBackground(t, c, q, func(context.Context, *client.Delivery) error { return nil },
				client.ConsumeOptions{Concurrency: 4, Visibility: 2 * time.Second})
			eventually(t, 20*time.Second, "20 acked", func() bool { return stats(t, n, q).Acked == 20 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			c.Close()
			goleak.VerifyNone(t, ignore,
				// The node's side of connections the client just closed.
				goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
				goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*http2Server).keepalive"),
				goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*controlBuffer).get"),
				goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.newHTTP2Server.func2"),
				goleak.IgnoreAnyFunction("google.golang.org/grpc.(*Server).serveStreams"),
			)
		})
	}
}
