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

// admSettings, admStats and admQueue mirror the queue object of docs/API.md §7.1.
type admSettings struct {
	VisibilityTimeout string   `json:"visibilityTimeout"`
	MaxAttempts       int      `json:"maxAttempts"`
	Backoff           []string `json:"backoff"`
	DeadLetterQueue   string   `json:"deadLetterQueue"`
	Retention         string   `json:"retention"`
	MaxDepth          int64    `json:"maxDepth"`
}

type admStats struct {
	Ready                 int64   `json:"ready"`
	Inflight              int64   `json:"inflight"`
	Delayed               int64   `json:"delayed"`
	Acked                 int64   `json:"acked"`
	OldestReadyAgeSeconds float64 `json:"oldestReadyAgeSeconds"`
	Enqueued              int64   `json:"enqueued"`
	Delivered             int64   `json:"delivered"`
	DeadLettered          int64   `json:"deadLettered"`
}

type admQueue struct {
	Name     string      `json:"name"`
	Settings admSettings `json:"settings"`
	Stats    admStats    `json:"stats"`
}

type admDeadLetter struct {
	OriginQueue string `json:"originQueue"`
	Reason      string `json:"reason"`
	Attempts    int    `json:"attempts"`
	DeadAt      string `json:"deadAt"`
}

type admDelivery struct {
	DeliveryID string  `json:"deliveryId"`
	Attempt    int     `json:"attempt"`
	LeasedAt   string  `json:"leasedAt"`
	SettledAt  *string `json:"settledAt"`
	Outcome    *string `json:"outcome"`
	Reason     *string `json:"reason"`
}

type admMessage struct {
	MessageID   string            `json:"messageId"`
	Queue       string            `json:"queue"`
	State       string            `json:"state"`
	Source      *string           `json:"source"`
	ReceivedAt  string            `json:"receivedAt"`
	EventID     *string           `json:"eventId"`
	ReplayOf    *string           `json:"replayOf"`
	Attempts    int               `json:"attempts"`
	DeadLetter  *admDeadLetter    `json:"deadLetter"`
	ContentType *string           `json:"contentType"`
	Headers     map[string]string `json:"headers"`
	Payload     string            `json:"payload"`
	Encoding    string            `json:"encoding"`
	Deliveries  []admDelivery     `json:"deliveries"`
}

type admPage struct {
	Messages []admMessage `json:"messages"`
	Next     string       `json:"next"`
}

// call sends a request that must answer want, and decodes the JSON body
// into out (when out is not nil).
func (e *env) admCall(method, path, token string, body any, want int, out any) []byte {
	e.t.Helper()
	resp, raw := e.do(method, path, token, body)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
	return raw
}

// getQueue reads a queue over the API; the age of the oldest ready message
// is zeroed so two reads compare equal when nothing changed.
func (e *env) admGetQueue(name string) admQueue {
	e.t.Helper()
	var q admQueue
	e.admCall("GET", "/v1/queues/"+name, adminToken, nil, http.StatusOK, &q)
	q.Stats.OldestReadyAgeSeconds = 0
	return q
}

// token creates a stored token with scopes and returns its secret.
func (e *env) admToken(name string, scopes ...string) string {
	e.t.Helper()
	sec, err := e.b.CreateToken(context.Background(), name, scopes)
	if err != nil {
		e.t.Fatalf("create token %s: %v", name, err)
	}
	return sec
}

// enqueue appends one message to q as source "src" and returns its id.
func (e *env) admEnqueue(q, body string) string {
	e.t.Helper()
	res, err := e.b.Enqueue(context.Background(), broker.EnqueueRequest{
		Source: "src", Queues: []string{q}, Body: []byte(body), ContentType: []byte("application/json"),
		Headers: []broker.Header{{Name: "X-Test", Value: []byte("yes")}},
	})
	if err != nil {
		e.t.Fatalf("enqueue %s: %v", q, err)
	}
	return res.MessageID
}

// lease leases up to n messages of q with visibility vis (0: default).
func (e *env) admLease(q string, n int, vis time.Duration) []broker.Delivery {
	e.t.Helper()
	ds, err := e.b.Lease(context.Background(), q, broker.LeaseOptions{Max: n, Visibility: vis})
	if err != nil {
		e.t.Fatalf("lease %s: %v", q, err)
	}
	if len(ds) != n {
		e.t.Fatalf("lease %s: got %d deliveries, want %d", q, len(ds), n)
	}
	return ds
}

// settle applies one settle item and fails on any error.
func (e *env) admSettle(q string, it broker.SettleItem) {
	e.t.Helper()
	res, err := e.b.Settle(context.Background(), q, []broker.SettleItem{it})
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		e.t.Fatalf("settle %s %v: %v", it.DeliveryID, it.Action, err)
	}
}

func admAck(id string) broker.SettleItem {
	return broker.SettleItem{DeliveryID: id, Action: broker.Ack}
}

func admNack(id string, delay time.Duration) broker.SettleItem {
	return broker.SettleItem{DeliveryID: id, Action: broker.Nack, HasDelay: true, Delay: delay}
}

func admReject(id string) broker.SettleItem {
	return broker.SettleItem{DeliveryID: id, Action: broker.Reject}
}

// admExpect400 asserts a 400 bad_request whose message names field.
func admExpect400(t testing.TB, resp *http.Response, body []byte, field string) {
	t.Helper()
	expectError(t, resp, body, http.StatusBadRequest, "bad_request")
	if !strings.Contains(string(body), field) {
		t.Fatalf("400 message does not name %q: %s", field, body)
	}
}

// admEventually polls cond until it holds or the deadline passes.
func admEventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// admIsUTC reports whether s is an RFC 3339 time in UTC.
func admIsUTC(s string) bool {
	ts, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && strings.HasSuffix(s, "Z") && ts.Format(time.RFC3339Nano) == s
}
