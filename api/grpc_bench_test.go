package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookq/hookq/api/apitest"
	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
)

// benchFill publishes n messages of 256 bytes to q through gRPC, from 8
// publishers at once, 100 messages per request.
func benchFill(b *testing.B, e *grpcEnv, q string, n int) {
	b.Helper()
	body := bytes.Repeat([]byte("x"), 256)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	per := (n + 7) / 8
	for w := range 8 {
		wg.Go(func() {
			for done := w * per; done < min(n, (w+1)*per); {
				req := &hookqv1.PublishRequest{Queue: q}
				for len(req.Messages) < 100 && done+len(req.Messages) < min(n, (w+1)*per) {
					req.Messages = append(req.Messages, &hookqv1.Message{Body: body})
				}
				if _, err := e.pub.Publish(as(e.AdminToken), req); err != nil {
					errs <- err
					return
				}
				done += len(req.Messages)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkConsumeGRPC consumes b.N messages over one Consume stream
// (256 credits), acking on the stream in batches of 64.
func BenchmarkConsumeGRPC(b *testing.B) {
	e := grpcEnvOn(b, apitest.Start(b))
	e.Queue(b, "bench", nil)
	benchFill(b, e, "bench", b.N)
	b.ResetTimer()
	st, err := e.cons.Consume(as(e.AdminToken))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Start{Start: &hookqv1.Start{Queue: "bench", Credits: 256}}}); err != nil {
		b.Fatal(err)
	}
	var acks []string
	flush := func() {
		if err := st.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Settle{Settle: &hookqv1.SettleRequest{Acks: acks}}}); err != nil {
			b.Fatal(err)
		}
		acks = nil
	}
	for i := 0; i < b.N; i++ {
		d, err := st.Recv()
		if err != nil {
			b.Fatal(err)
		}
		if acks = append(acks, d.Meta.DeliveryId); len(acks) == 64 {
			flush()
		}
	}
	if len(acks) > 0 {
		flush()
	}
	// Settlements on the stream get no answer: count until they are all
	// committed, as the REST loop's are.
	for {
		q, err := e.Broker.Queue("bench")
		if err != nil {
			b.Fatal(err)
		}
		if q.Stats.Inflight == 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	if err := st.CloseSend(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkConsumeRESTBatch consumes b.N messages with POST lease (max
// 100) and POST settle (ack all) in a loop.
func BenchmarkConsumeRESTBatch(b *testing.B) {
	e := grpcEnvOn(b, apitest.Start(b))
	e.Queue(b, "bench", nil)
	benchFill(b, e, "bench", b.N)
	b.ResetTimer()
	post := func(path string, body any, out any) {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, e.HTTPURL+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+e.AdminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d", path, res.StatusCode)
		}
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			b.Fatal(err)
		}
	}
	for got := 0; got < b.N; {
		var lease struct {
			Messages []struct {
				Meta struct {
					DeliveryID string `json:"deliveryId"`
				} `json:"meta"`
			} `json:"messages"`
		}
		post("/v1/queues/bench/lease", map[string]any{"max": 100, "wait": "5s"}, &lease)
		if len(lease.Messages) == 0 {
			b.Fatalf("lease answered nothing after %d of %d", got, b.N)
		}
		ids := make([]string, len(lease.Messages))
		for i, m := range lease.Messages {
			ids[i] = m.Meta.DeliveryID
		}
		var settled map[string]any
		post("/v1/queues/bench/settle", map[string]any{"ack": ids}, &settled)
		got += len(ids)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
