package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
)

// Helpers shared by the consumer tests (consume_*_test.go, sse_test.go,
// shutdown_test.go, refconsumers_test.go).

// consEnvelope is the envelope of docs/API.md §6.2 as a client decodes it.
type consEnvelope struct {
	Payload     string `json:"payload"`
	Encoding    string `json:"encoding"`
	ContentType string `json:"contentType"`
	Meta        metaT  `json:"meta"`
}

// enqueue appends one message to q directly through the broker (durable
// on return) and returns its messageId.
func (e *env) consPut(q, body, contentType string) string {
	e.t.Helper()
	res, err := e.b.Enqueue(context.Background(), broker.EnqueueRequest{
		Source: "test", Queues: []string{q}, Body: []byte(body), ContentType: []byte(contentType),
	})
	if err != nil {
		e.t.Fatalf("enqueue into %s: %v", q, err)
	}
	return res.MessageID
}

// token creates a token with scopes through the broker.
func (e *env) consToken(name string, scopes ...string) string {
	e.t.Helper()
	tok, err := e.b.CreateToken(context.Background(), name, scopes)
	if err != nil {
		e.t.Fatalf("create token %s: %v", name, err)
	}
	return tok
}

// stats are q's counts now, without the time-dependent oldest-ready age,
// so two snapshots compare equal when nothing changed.
func (e *env) consStats(q string) broker.Stats {
	e.t.Helper()
	info, err := e.b.Queue(q)
	if err != nil {
		e.t.Fatalf("queue %s: %v", q, err)
	}
	s := info.Stats
	s.OldestReadyAge = 0
	return s
}

// unchanged fails when q's counts differ from before.
func (e *env) consUnchanged(q string, before broker.Stats) {
	e.t.Helper()
	if after := e.consStats(q); after != before {
		e.t.Fatalf("queue %s changed on error: before %+v, after %+v", q, before, after)
	}
}

// waitStats polls q's counts until ok holds, or fails after timeout.
func (e *env) consWaitStats(q string, timeout time.Duration, ok func(broker.Stats) bool) broker.Stats {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := e.consStats(q)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("queue %s: stats %+v never matched within %v", q, s, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// next calls GET /v1/queues/{q}/next with query and, on 200, decodes the
// meta header.
func (e *env) consNext(q, query, token string) (*http.Response, []byte, metaT) {
	e.t.Helper()
	resp, body := e.do("GET", "/v1/queues/"+q+"/next"+query, token, nil)
	var m metaT
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(resp.Header.Get("X-Hookq-Meta")), &m); err != nil {
			e.t.Fatalf("X-Hookq-Meta: %v", err)
		}
	}
	return resp, body, m
}

// mustNext leases one message of q, failing unless one arrives.
func (e *env) consMustNext(q, query string) ([]byte, metaT) {
	e.t.Helper()
	if !strings.Contains(query, "wait=") {
		query += consSep(query) + "wait=5s"
	}
	resp, body, m := e.consNext(q, query, adminToken)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("next on %s: %d %s", q, resp.StatusCode, body)
	}
	return body, m
}

func consSep(query string) string {
	if query == "" {
		return "?"
	}
	return "&"
}

// deliveryPath is the path of an action on a delivery of q.
func consPath(q, id, action string) string {
	return "/v1/queues/" + q + "/deliveries/" + id + "/" + action
}

// parseTime parses an RFC 3339 time of a response, UTC required.
func consTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("time %q is not RFC 3339 in UTC: %v", s, err)
	}
	return ts
}
