package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/ingest"
)

func TestNextReturnsRawBodyMetaAndLink(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	id := e.consPut("orders", `{"id":"evt_1"}`, "application/json; charset=utf-8")

	start := time.Now()
	resp, body, m := e.consNext("orders", "?visibility=10s", adminToken)
	if resp.StatusCode != http.StatusOK || string(body) != `{"id":"evt_1"}` {
		t.Fatalf("next: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("Content-Type %q, want the original", ct)
	}
	if m.MessageID != id || m.DeliveryID == "" || m.Queue != "orders" || m.Source != "test" || m.Attempt != 1 {
		t.Fatalf("meta %+v", m)
	}
	consTime(t, m.ReceivedAt)
	end := consTime(t, m.LeaseExpiresAt)
	if lo, hi := start.Add(9*time.Second), time.Now().Add(10*time.Second); end.Before(lo) || end.After(hi) {
		t.Fatalf("leaseExpiresAt %v outside [%v, %v] for visibility=10s", end, lo, hi)
	}
	var links []string
	for _, a := range []string{"ack", "nack", "reject", "extend"} {
		url := e.srv.URL + consPath("orders", m.DeliveryID, a)
		links = append(links, fmt.Sprintf(`<%s>; rel="%s"`, url, a))
	}
	if got, want := resp.Header.Get("Link"), strings.Join(links, ", "); got != want {
		t.Fatalf("Link = %q\nwant %q", got, want)
	}
	if m.AckURL != e.srv.URL+consPath("orders", m.DeliveryID, "ack") || m.NackURL == "" || m.RejectURL == "" || m.ExtendURL == "" {
		t.Fatalf("meta URLs %+v", m)
	}
	s := e.consStats("orders")
	if s.Ready != 0 || s.Inflight != 1 || s.Delivered != 1 {
		t.Fatalf("stats after next: %+v", s)
	}
}

func TestNextKeepsBinaryBodyAndEscapesNonASCIIMeta(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.source("src", ingest.SourceConfig{Queues: []string{"q"}, Verify: ingest.VerifyConfig{Type: "none"}})
	raw := "\xff\xfe\x00binary"
	resp, body := e.do("POST", "/hooks/src", "", raw, "Content-Type", "application/octet-stream", "X-Name", "café ☕ 🎉")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	resp, body, m := e.consNext("q", "?wait=1s", adminToken)
	if resp.StatusCode != http.StatusOK || string(body) != raw {
		t.Fatalf("next: %d %q", resp.StatusCode, body)
	}
	h := resp.Header.Get("X-Hookq-Meta")
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			t.Fatalf("X-Hookq-Meta has a non-ASCII byte: %q", h)
		}
	}
	if m.Headers["X-Name"] != "café ☕ 🎉" {
		t.Fatalf("header X-Name = %q through the escaped meta", m.Headers["X-Name"])
	}
}

func TestNextAnswers204WhenNothingArrivesWithinWait(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	start := time.Now()
	resp, body, _ := e.consNext("q", "?wait=300ms", adminToken)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("next: %d %q", resp.StatusCode, body)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("204 after %v, before wait=300ms ended", el)
	}
}

func TestNextLongPollReturnsAMessageEnqueuedWhileWaiting(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	type result struct {
		status int
		body   string
	}
	done := make(chan result, 1)
	go func() {
		resp, body := e.do("GET", "/v1/queues/q/next?wait=10s", adminToken, nil)
		done <- result{resp.StatusCode, string(body)}
	}()
	// Enqueue once the long poll is parked (or not: either way it must
	// come back with the message, long before wait ends).
	e.consPut("q", "late", "text/plain")
	select {
	case r := <-done:
		if r.status != http.StatusOK || r.body != "late" {
			t.Fatalf("long poll: %d %q", r.status, r.body)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("long poll did not return the message enqueued while it waited")
	}
}

func TestNextAutoAckAcksAtDelivery(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "once", "text/plain")
	resp, body, m := e.consNext("q", "?autoAck=true&wait=5s", adminToken)
	if resp.StatusCode != http.StatusOK || string(body) != "once" {
		t.Fatalf("next autoAck: %d %q", resp.StatusCode, body)
	}
	s := e.consStats("q")
	if s.Acked != 1 || s.Inflight != 0 || s.Ready != 0 {
		t.Fatalf("stats after autoAck next: %+v", s)
	}
	// Nothing is left to settle: the meta and the Link header offer no
	// lease end and no action URLs.
	if m.DeliveryID == "" || m.LeaseExpiresAt != "" || m.AckURL != "" || m.NackURL != "" || m.RejectURL != "" || m.ExtendURL != "" {
		t.Fatalf("auto-acked meta %+v", m)
	}
	if l := resp.Header.Get("Link"); l != "" {
		t.Fatalf("auto-acked delivery has Link %q", l)
	}
	resp, body = e.do("POST", consPath("q", m.DeliveryID, "ack"), adminToken, nil)
	expectError(t, resp, body, http.StatusConflict, "lease_expired")
}

func TestNextScopes(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	for _, tc := range []struct {
		name   string
		scopes []string
	}{
		{"admin", []string{"admin"}},
		{"all", []string{"consume:*"}},
		{"this", []string{"read:*", "consume:q"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.consPut("q", "m", "text/plain")
			tok := e.consToken(tc.name, tc.scopes...)
			resp, body, m := e.consNext("q", "?wait=1s", tok)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("next with %v: %d %s", tc.scopes, resp.StatusCode, body)
			}
			if resp, body := e.do("POST", m.AckURL, tok, nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("ack with %v: %d %s", tc.scopes, resp.StatusCode, body)
			}
		})
	}
}

func TestNextErrorsChangeNothing(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "m", "text/plain") // a ready message any mistaken lease would take
	other := e.consToken("other", "consume:other")
	publisher := e.consToken("pub", "publish:*", "read:*")
	for _, tc := range []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"wait over 30s", "/v1/queues/q/next?wait=31s", adminToken, 400, "bad_request"},
		{"wait not a duration", "/v1/queues/q/next?wait=soon", adminToken, 400, "bad_request"},
		{"negative wait", "/v1/queues/q/next?wait=-1s", adminToken, 400, "bad_request"},
		{"visibility under 1s", "/v1/queues/q/next?visibility=500ms", adminToken, 400, "bad_request"},
		{"visibility over 12h", "/v1/queues/q/next?visibility=13h", adminToken, 400, "bad_request"},
		{"visibility not a duration", "/v1/queues/q/next?visibility=30", adminToken, 400, "bad_request"},
		{"autoAck not a bool", "/v1/queues/q/next?autoAck=maybe", adminToken, 400, "bad_request"},
		{"unknown queue", "/v1/queues/nope/next", adminToken, 404, "not_found"},
		{"unknown queue with wait", "/v1/queues/nope/next?wait=5s", adminToken, 404, "not_found"},
		{"no token", "/v1/queues/q/next", "", 401, "unauthenticated"},
		{"bad token", "/v1/queues/q/next", "hq_nope", 401, "unauthenticated"},
		{"consume scope of another queue", "/v1/queues/q/next", other, 403, "forbidden"},
		{"no consume scope", "/v1/queues/q/next", publisher, 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.consStats("q")
			resp, body := e.do("GET", tc.path, tc.token, nil)
			expectError(t, resp, body, tc.status, tc.code)
			e.consUnchanged("q", before)
		})
	}
}

func TestNextCompetingConsumersEachGetADifferentMessage(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	const n = 8
	for i := range n {
		e.consPut("q", fmt.Sprint(i), "text/plain")
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", e.srv.URL+"/v1/queues/q/next?wait=2s", nil)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var m metaT
			if err := json.Unmarshal([]byte(resp.Header.Get("X-Hookq-Meta")), &m); err != nil {
				errs <- fmt.Errorf("status %d: %v", resp.StatusCode, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[m.MessageID] {
				errs <- fmt.Errorf("message %s leased twice", m.MessageID)
			}
			seen[m.MessageID] = true
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(seen) != n {
		t.Fatalf("%d distinct messages leased, want %d", len(seen), n)
	}
	e.consWaitStats("q", time.Second, func(s broker.Stats) bool { return s.Inflight == n && s.Ready == 0 })
}
