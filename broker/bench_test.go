package broker_test

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
)

var body1KiB = bytes.Repeat([]byte("x"), 1024)

// BenchmarkEnqueue1KiB: durable enqueues of 1 KiB through the batcher and
// Raft (bbolt fsync per append) on one node; run with -cpu and
// -benchtime to vary; b.SetParallelism raises the producer count.
func BenchmarkEnqueue1KiB(b *testing.B) {
	for _, producers := range []int{1, 16, 128} {
		b.Run(map[int]string{1: "producers=1", 16: "producers=16", 128: "producers=128"}[producers], func(b *testing.B) {
			br := brokertest.MustOpen(b)
			mustQueue(b, br, "q")
			b.SetBytes(int64(len(body1KiB)))
			b.SetParallelism(max(1, producers/max(1, runtime.GOMAXPROCS(0))))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if _, err := br.Enqueue(ctx, broker.EnqueueRequest{Source: "s", Queues: []string{"q"}, Body: body1KiB}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/float64(max(1, br.Raft().LastIndex())), "ops/entry")
		})
	}
}

// BenchmarkLeaseAck1KiB: lease one message then ack it (two Raft
// commands), 16 concurrent consumers, on a pre-filled queue.
func BenchmarkLeaseAck1KiB(b *testing.B) {
	br := brokertest.MustOpen(b)
	mustQueue(b, br, "q")
	ctx := context.Background()
	fill := func(n int) {
		sem := make(chan struct{}, 64)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if _, err := br.Enqueue(ctx, broker.EnqueueRequest{Source: "s", Queues: []string{"q"}, Body: body1KiB}); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	fill(b.N + 64)
	b.SetBytes(int64(len(body1KiB)))
	b.SetParallelism(max(1, 16/max(1, runtime.GOMAXPROCS(0))))
	var empty atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(p *testing.PB) {
		for p.Next() {
			ds, err := br.Lease(ctx, "q", broker.LeaseOptions{Max: 1})
			if err != nil {
				b.Error(err)
				return
			}
			if len(ds) == 0 {
				empty.Add(1)
				continue
			}
			res, err := br.Settle(ctx, "q", []broker.SettleItem{{DeliveryID: ds[0].DeliveryID, Action: broker.Ack}})
			if err != nil || res[0].Err != nil {
				b.Errorf("ack: %v %v", err, res)
				return
			}
		}
	})
	if n := empty.Load(); n > 0 {
		b.Fatalf("%d leases found the queue empty", n)
	}
}
