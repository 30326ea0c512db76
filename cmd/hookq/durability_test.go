package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

// N webhooks answered 2xx survive SIGKILL of the only node: after a
// restart every one of them is leased.
func TestAcknowledgedIngestsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	p := newProc(t, "solo")
	p.start()
	p.waitReady(30 * time.Second)
	setupQueue(t, p, "orders")

	const n = 300
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			code, out, _, err := call("POST", p.url("/hooks/orders"), fmt.Sprintf(`{"n":%d}`, i), "X-Event-Id", fmt.Sprint(i))
			if err != nil || code != 202 {
				t.Errorf("ingest %d: %d %v %s", i, code, err, out)
				return
			}
			var r struct {
				MessageID string `json:"messageId"`
			}
			if err := json.Unmarshal(out, &r); err != nil {
				t.Errorf("ingest body: %v", err)
				return
			}
			mu.Lock()
			acked[r.MessageID] = true
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if len(acked) != n {
		t.Fatalf("%d distinct 2xx ids, want %d", len(acked), n)
	}

	p.kill() // SIGKILL, no chance to flush anything
	p.start()
	p.waitReady(30 * time.Second)
	ids, _ := drain(t, p, "orders")
	for id := range acked {
		if !ids[id] {
			t.Errorf("2xx'd message %s lost after SIGKILL", id)
		}
	}
	if len(ids) != n {
		t.Fatalf("leased %d messages after restart, want %d", len(ids), n)
	}
}
