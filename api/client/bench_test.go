package client_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/api/client"
)

// benchWindow is the unsettled deliveries both benchmarks allow: the
// Consume stream's credits, and one REST batch.
const benchWindow = 100

// benchNode starts a node with b.N messages of 1 KiB in queue "bench"
// (published before the timer starts) and returns it.
func benchNode(b *testing.B) *apitest.Node {
	b.Helper()
	b.StopTimer()
	n := apitest.Start(b)
	n.Queue(b, "bench", nil)
	c := newClient(b, n, client.TransportGRPC, "")
	body := make([]byte, 1024)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	const batch = 500
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for start := 0; start < b.N; start += batch {
		msgs := make([]client.Message, min(batch, b.N-start))
		for i := range msgs {
			msgs[i] = client.Message{Body: body, ContentType: "text/plain"}
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := c.Publish(ctx, "bench", msgs...); err != nil {
				b.Errorf("publish: %v", err)
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return n
}

func reportRate(b *testing.B, start time.Time) {
	b.StopTimer()
	if s := time.Since(start).Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msgs/s")
	}
}

// BenchmarkConsumeGRPC: Consume over one gRPC stream with 100 credits (16
// handlers + 84 prefetched), every message acked on the stream.
func BenchmarkConsumeGRPC(b *testing.B) {
	n := benchNode(b)
	c := newClient(b, n, client.TransportGRPC, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var done atomic.Int64
	h := func(context.Context, *client.Delivery) error {
		if done.Add(1) == int64(b.N) {
			cancel()
		}
		return nil
	}
	b.ResetTimer()
	b.StartTimer()
	start := time.Now()
	if err := c.Consume(ctx, "bench", h, client.ConsumeOptions{Concurrency: 16, Prefetch: benchWindow - 16}); err != nil {
		b.Fatal(err)
	}
	reportRate(b, start)
	if got := done.Load(); got < int64(b.N) {
		b.Fatalf("handled %d of %d", got, b.N)
	}
}

// BenchmarkLeaseREST: one loop of POST …/lease (max 100) and POST
// …/settle acking the batch.
func BenchmarkLeaseREST(b *testing.B) {
	n := benchNode(b)
	c := newClient(b, n, client.TransportREST, "")
	ctx := context.Background()
	b.ResetTimer()
	b.StartTimer()
	start := time.Now()
	for got := 0; got < b.N; {
		ds, err := c.Lease(ctx, "bench", client.LeaseOptions{Max: benchWindow, Wait: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		acks := make([]string, len(ds))
		for i, d := range ds {
			acks[i] = d.Meta.DeliveryID
		}
		if len(acks) > 0 {
			if _, err := c.Settle(ctx, "bench", client.Settlement{Acks: acks}); err != nil {
				b.Fatal(err)
			}
		}
		got += len(ds)
	}
	reportRate(b, start)
}
