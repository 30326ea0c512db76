package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/api/client"
)

// TestConsumeHandlerResultsHookqWouldRefuse: a handler's error text that
// is not valid UTF-8 (a gRPC string must be) and a Retry longer than the
// 12h nack delay hookq accepts still settle as nacks: the consumer keeps
// running, and the other settlements sent with them are not lost.
func TestConsumeHandlerResultsHookqWouldRefuse(t *testing.T) {
	n := apitest.Start(t)
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			q := "refusable-" + tr.String()
			fastQueue(t, n, q, nil)
			c := newClient(t, n, tr, "")
			ids, err := c.Publish(ctxT(t), q,
				client.Message{Body: []byte("ok")},
				client.Message{Body: []byte("binary")},
				client.Message{Body: []byte("later")})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			seen := map[string][]int{}
			h := func(_ context.Context, d *client.Delivery) error {
				mu.Lock()
				seen[string(d.Payload)] = append(seen[string(d.Payload)], d.Meta.Attempt)
				mu.Unlock()
				if d.Meta.Attempt > 1 {
					return nil
				}
				switch string(d.Payload) {
				case "binary":
					return errors.New("bad byte \xff in input")
				case "later":
					return client.Retry(48 * time.Hour)
				}
				return nil
			}
			stop := consumeInBackground(t, c, q, h, client.ConsumeOptions{Concurrency: 3, Visibility: time.Hour})
			eventually(t, 20*time.Second, "two acked and one delayed", func() bool {
				s := stats(t, n, q)
				return s.Acked == 2 && s.Delayed == 1
			})
			if err := stop(); err != nil {
				t.Fatalf("Consume: %v", err)
			}
			m, _, err := n.Broker.Message(q, ids[1])
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Deliveries) != 2 || m.Deliveries[0].Outcome != "nack" || m.Deliveries[0].Reason != "bad byte \uFFFD in input" {
				t.Errorf("binary deliveries = %+v, want a nack with the reason made valid UTF-8", m.Deliveries)
			}
			m, _, err = n.Broker.Message(q, ids[2])
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Deliveries) != 1 || m.Deliveries[0].Outcome != "nack" {
				t.Errorf("later deliveries = %+v, want one nack", m.Deliveries)
			}
		})
	}
}
