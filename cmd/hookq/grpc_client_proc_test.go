package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hqclient "github.com/hookq/hookq/api/client"
)

// A client.Consume loop connected through the leader of three real
// voters keeps going when that leader is SIGKILLed: the client fails over
// to another node's gRPC address, and every message published (before,
// during and after the kill) is handled at least once. Duplicates are
// allowed (a lease lost with the leader, a settlement the dead node never
// made) and reported.
func TestClientConsumeSurvivesLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	ps := cluster3(t)
	leader := leaderOf(t, ps)
	mustCall(t, 201, "PUT", leader.url("/v1/queues/jobs"), map[string]any{"visibilityTimeout": "5s"})

	// The consumer lists the leader first, so its stream goes through the
	// node that dies; the publisher starts at a follower.
	var consumerAddrs, publisherAddrs []string
	consumerAddrs = append(consumerAddrs, leader.grpc)
	for _, p := range ps {
		if p != leader {
			consumerAddrs = append(consumerAddrs, p.grpc)
			publisherAddrs = append(publisherAddrs, p.grpc)
		}
	}
	publisherAddrs = append(publisherAddrs, leader.grpc)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
	}
	consumer, err := hqclient.New(hqclient.Options{GRPCTargets: consumerAddrs, Token: testAdmin, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = consumer.Close() }()
	publisher, err := hqclient.New(hqclient.Options{GRPCTargets: publisherAddrs, Token: testAdmin, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = publisher.Close() }()

	var mu sync.Mutex
	seen := map[string]int{} // event id → handler calls
	var handled atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consumeDone := make(chan error, 1)
	go func() {
		consumeDone <- consumer.Consume(ctx, "jobs", func(_ context.Context, d *hqclient.Delivery) error {
			time.Sleep(2 * time.Millisecond) // the work
			mu.Lock()
			seen[d.Meta.EventID]++
			mu.Unlock()
			handled.Add(1)
			return nil
		}, hqclient.ConsumeOptions{Concurrency: 8, MaxBackoff: time.Second})
	}()

	// Publish 1000 messages in batches of 10, each batch retried until
	// OK (its event ids make a retry of a batch that was in fact stored
	// harmless).
	const total, batch = 1000, 10
	var published []string
	var pubRetries atomic.Int64
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for start := 0; start < total; start += batch {
			msgs := make([]hqclient.Message, batch)
			for i := range msgs {
				ev := fmt.Sprintf("ev-%04d", start+i)
				msgs[i] = hqclient.Message{Body: []byte(`{"job":"` + ev + `"}`), ContentType: "application/json", EventID: ev}
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := publisher.Publish(pctx, "jobs", msgs...)
				pcancel()
				if err == nil {
					break
				}
				if ctx.Err() != nil || time.Now().After(deadline) {
					t.Errorf("publish batch at %d: %v", start, err)
					return
				}
				pubRetries.Add(1)
				time.Sleep(100 * time.Millisecond) // retry pacing
			}
			mu.Lock()
			for _, m := range msgs {
				published = append(published, m.EventID)
			}
			mu.Unlock()
		}
	}()

	waitFor(t, 60*time.Second, "300 messages handled before the kill", func() bool { return handled.Load() >= 300 })
	killedAt := time.Now()
	handledAtKill := handled.Load()
	leader.kill()
	t.Logf("killed leader %s after %d handled", leader.id, handledAtKill)
	waitFor(t, 60*time.Second, "a message handled after the kill", func() bool { return handled.Load() > handledAtKill+int64(batch) })
	resumed := time.Since(killedAt)
	<-pubDone
	if t.Failed() {
		t.FailNow()
	}
	waitFor(t, 90*time.Second, "every published message handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range published {
			if seen[ev] == 0 {
				return false
			}
		}
		return true
	})
	cancel()
	select {
	case err := <-consumeDone:
		if err != nil {
			t.Fatalf("Consume: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Consume did not return within 60s of its context's end")
	}

	mu.Lock()
	defer mu.Unlock()
	dups, redelivered := 0, 0
	for _, n := range seen {
		if n > 1 {
			dups += n - 1
			redelivered++
		}
	}
	if len(published) != total {
		t.Fatalf("published %d of %d", len(published), total)
	}
	t.Logf("leader %s SIGKILLed during client.Consume: %d published (%d publish retries), %d distinct handled, %d handler calls; duplicates: %d (%d messages handled more than once); consumption resumed %v after the kill",
		leader.id, len(published), pubRetries.Load(), len(seen), handled.Load(), dups, redelivered, resumed.Round(time.Millisecond))
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	return len(p), nil
}
