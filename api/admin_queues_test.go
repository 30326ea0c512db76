package api_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

var admDefaultSettings = admSettings{
	VisibilityTimeout: "30s", MaxAttempts: 5, Backoff: []string{"1s", "5s", "30s", "2m0s", "10m0s"},
	DeadLetterQueue: "orders.dlq", Retention: "24h0m0s", MaxDepth: 1000000,
}

func TestPutQueueCreatesWithDefaultsThenReplaces(t *testing.T) {
	e := newEnv(t)
	var q admQueue
	e.admCall("PUT", "/v1/queues/orders", adminToken, nil, http.StatusCreated, &q)
	if q.Name != "orders" || !reflect.DeepEqual(q.Settings, admDefaultSettings) || q.Stats != (admStats{}) {
		t.Fatalf("created queue = %+v", q)
	}
	// The DLQ is created with its queue: no DLQ of its own, no attempt limit.
	dlq := e.admGetQueue("orders.dlq")
	if dlq.Settings.DeadLetterQueue != "" || dlq.Settings.MaxAttempts != 0 {
		t.Fatalf("dlq settings = %+v", dlq.Settings)
	}

	body := map[string]any{
		"visibilityTimeout": "90s", "maxAttempts": 0, "backoff": []string{"2s", "1m"},
		"deadLetterQueue": "", "retention": "1h", "maxDepth": 10,
	}
	e.admCall("PUT", "/v1/queues/orders", adminToken, body, http.StatusOK, &q)
	want := admSettings{VisibilityTimeout: "1m30s", MaxAttempts: 0, Backoff: []string{"2s", "1m0s"}, DeadLetterQueue: "", Retention: "1h0m0s", MaxDepth: 10}
	if !reflect.DeepEqual(q.Settings, want) {
		t.Fatalf("updated settings = %+v, want %+v", q.Settings, want)
	}
	if got := e.admGetQueue("orders"); !reflect.DeepEqual(got.Settings, want) {
		t.Fatalf("GET after update = %+v", got.Settings)
	}

	// PUT replaces the whole resource: what is omitted goes back to default.
	e.admCall("PUT", "/v1/queues/orders", adminToken, `{"maxDepth":7}`, http.StatusOK, &q)
	want = admDefaultSettings
	want.MaxDepth = 7
	if !reflect.DeepEqual(q.Settings, want) {
		t.Fatalf("replaced settings = %+v, want %+v", q.Settings, want)
	}
}

func TestPutQueueOnDeadLetterQueueKeepsItsDefaults(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	var q admQueue
	e.admCall("PUT", "/v1/queues/orders.dlq", adminToken, `{"retention":"48h"}`, http.StatusOK, &q)
	if q.Settings.DeadLetterQueue != "" || q.Settings.MaxAttempts != 0 || q.Settings.Retention != "48h0m0s" {
		t.Fatalf("dlq settings = %+v", q.Settings)
	}
	resp, _ := e.do("GET", "/v1/queues/orders.dlq.dlq", adminToken, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a DLQ of the DLQ was created: %d", resp.StatusCode)
	}
}

func TestPutQueueRejectsBadSettingsNamingTheField(t *testing.T) {
	e := newEnv(t)
	e.admCall("PUT", "/v1/queues/orders", adminToken, `{"maxDepth":5}`, http.StatusCreated, nil)
	before := e.admGetQueue("orders")
	cases := []struct {
		name, body, field string
	}{
		{"malformed JSON", `{"maxDepth":`, "malformed JSON"},
		{"trailing data", `{} {}`, "trailing"},
		{"unknown field", `{"visibility":"30s"}`, "visibility"},
		{"visibility not a duration", `{"visibilityTimeout":"soon"}`, "visibilityTimeout"},
		{"visibility under 1s", `{"visibilityTimeout":"500ms"}`, "visibilityTimeout"},
		{"visibility over 12h", `{"visibilityTimeout":"12h1s"}`, "visibilityTimeout"},
		{"visibility wrong type", `{"visibilityTimeout":30}`, "visibilityTimeout"},
		{"negative maxAttempts", `{"maxAttempts":-1}`, "maxAttempts"},
		{"maxAttempts not an integer", `{"maxAttempts":"5"}`, "maxAttempts"},
		{"empty backoff", `{"backoff":[]}`, "backoff"},
		{"negative backoff", `{"backoff":["1s","-1s"]}`, "backoff[1]"},
		{"backoff over 12h", `{"backoff":["13h"]}`, "backoff[0]"},
		{"backoff not a duration", `{"backoff":["x"]}`, "backoff[0]"},
		{"bad DLQ name", `{"deadLetterQueue":"no spaces"}`, "deadLetterQueue"},
		{"DLQ is itself", `{"deadLetterQueue":"orders"}`, "deadLetterQueue"},
		{"zero retention", `{"retention":"0s"}`, "retention"},
		{"retention not a duration", `{"retention":"1 day"}`, "retention"},
		{"zero maxDepth", `{"maxDepth":0}`, "maxDepth"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do("PUT", "/v1/queues/orders", adminToken, c.body)
			admExpect400(t, resp, body, c.field)
			if after := e.admGetQueue("orders"); !reflect.DeepEqual(after, before) {
				t.Fatalf("queue changed on error: %+v, was %+v", after, before)
			}
			if c.name == "DLQ is itself" {
				return // valid for any other queue
			}
			// A new queue is not created by a rejected PUT either.
			resp, body = e.do("PUT", "/v1/queues/fresh", adminToken, c.body)
			admExpect400(t, resp, body, c.field)
			resp, body = e.do("GET", "/v1/queues/fresh", adminToken, nil)
			expectError(t, resp, body, http.StatusNotFound, "not_found")
		})
	}
}

func TestPutQueueRejectsBadNames(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", 128) // valid, but its default DLQ name is too long
	for _, name := range []string{"-lead", "sp%20ace", "a%21", strings.Repeat("b", 129), long} {
		resp, body := e.do("PUT", "/v1/queues/"+name, adminToken, nil)
		expectError(t, resp, body, http.StatusBadRequest, "bad_request")
	}
	var list struct {
		Queues []admQueue `json:"queues"`
	}
	e.admCall("GET", "/v1/queues", adminToken, nil, http.StatusOK, &list)
	if len(list.Queues) != 0 {
		t.Fatalf("queues after rejected PUTs: %+v", list.Queues)
	}
	// With an explicit DLQ the 128-character name is fine.
	e.admCall("PUT", "/v1/queues/"+long, adminToken, `{"deadLetterQueue":"dead"}`, http.StatusCreated, nil)
}

func TestQueueEndpointsAuth(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	e.queue("other")
	consume := e.admToken("consumer", "consume:*", "publish:*")
	reader := e.admToken("reader", "read:orders")
	before := e.admGetQueue("orders")
	for _, c := range []struct{ method, path string }{
		{"PUT", "/v1/queues/orders"}, {"GET", "/v1/queues/orders"}, {"DELETE", "/v1/queues/orders"}, {"GET", "/v1/queues"},
	} {
		resp, body := e.do(c.method, c.path, "", nil)
		expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
		resp, body = e.do(c.method, c.path, "not-a-token", nil)
		expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	}
	for _, tok := range []string{consume, reader} {
		resp, body := e.do("PUT", "/v1/queues/orders", tok, `{"maxDepth":1}`)
		expectError(t, resp, body, http.StatusForbidden, "forbidden")
		resp, body = e.do("DELETE", "/v1/queues/orders", tok, nil)
		expectError(t, resp, body, http.StatusForbidden, "forbidden")
	}
	resp, body := e.do("GET", "/v1/queues/orders", consume, nil)
	expectError(t, resp, body, http.StatusForbidden, "forbidden")
	resp, body = e.do("GET", "/v1/queues/other", reader, nil)
	expectError(t, resp, body, http.StatusForbidden, "forbidden")
	if after := e.admGetQueue("orders"); !reflect.DeepEqual(after, before) {
		t.Fatalf("queue changed by refused calls: %+v", after)
	}

	var q admQueue
	e.admCall("GET", "/v1/queues/orders", reader, nil, http.StatusOK, &q)
	if q.Name != "orders" {
		t.Fatalf("reader GET = %+v", q)
	}
	names := func(tok string) []string {
		var list struct {
			Queues []admQueue `json:"queues"`
		}
		e.admCall("GET", "/v1/queues", tok, nil, http.StatusOK, &list)
		out := []string{}
		for _, q := range list.Queues {
			out = append(out, q.Name)
		}
		return out
	}
	if got := names(reader); !reflect.DeepEqual(got, []string{"orders"}) {
		t.Fatalf("reader lists %v", got)
	}
	if got := names(consume); len(got) != 0 {
		t.Fatalf("token without read lists %v", got)
	}
	if got := names(adminToken); !reflect.DeepEqual(got, []string{"orders", "orders.dlq", "other", "other.dlq"}) {
		t.Fatalf("admin lists %v", got)
	}
	all := e.admToken("all-reader", "read:*")
	if got := names(all); len(got) != 4 {
		t.Fatalf("read:* lists %v", got)
	}
}

func TestDeleteQueue(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	e.admEnqueue("orders", `{}`)
	resp, body := e.do("DELETE", "/v1/queues/nope", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
	resp, body = e.do("GET", "/v1/queues/nope", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")

	e.admCall("DELETE", "/v1/queues/orders", adminToken, nil, http.StatusNoContent, nil)
	resp, body = e.do("GET", "/v1/queues/orders", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
	resp, body = e.do("DELETE", "/v1/queues/orders", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")

	// Re-created, it starts empty.
	var q admQueue
	e.admCall("PUT", "/v1/queues/orders", adminToken, nil, http.StatusCreated, &q)
	if q.Stats != (admStats{}) {
		t.Fatalf("re-created queue stats %+v", q.Stats)
	}
}

func TestQueueStatsAreExact(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	for i := 0; i < 6; i++ {
		e.admEnqueue("orders", `{"n":1}`)
	}
	if st := e.admGetQueue("orders").Stats; st != (admStats{Ready: 6, Enqueued: 6}) {
		t.Fatalf("after enqueue: %+v", st)
	}
	ds := e.admLease("orders", 4, time.Hour)
	if st := e.admGetQueue("orders").Stats; st != (admStats{Ready: 2, Inflight: 4, Enqueued: 6, Delivered: 4}) {
		t.Fatalf("after lease: %+v", st)
	}
	e.admSettle("orders", admAck(ds[0].DeliveryID))
	e.admSettle("orders", admNack(ds[1].DeliveryID, time.Hour))
	e.admSettle("orders", admReject(ds[2].DeliveryID))
	want := admStats{Ready: 2, Inflight: 1, Delayed: 1, Acked: 1, Enqueued: 6, Delivered: 4, DeadLettered: 1}
	if st := e.admGetQueue("orders").Stats; st != want {
		t.Fatalf("after ack/nack/reject: %+v, want %+v", st, want)
	}
	// A nack without delay makes the message ready again at once.
	e.admSettle("orders", admNack(ds[3].DeliveryID, 0))
	want = admStats{Ready: 3, Delayed: 1, Acked: 1, Enqueued: 6, Delivered: 4, DeadLettered: 1}
	if st := e.admGetQueue("orders").Stats; st != want {
		t.Fatalf("after nack 0: %+v, want %+v", st, want)
	}
	if st := e.admGetQueue("orders.dlq").Stats; st != (admStats{Ready: 1, Enqueued: 1}) {
		t.Fatalf("dlq stats: %+v", st)
	}

	var q admQueue
	e.admCall("GET", "/v1/queues/orders", adminToken, nil, http.StatusOK, &q)
	if q.Stats.OldestReadyAgeSeconds <= 0 || q.Stats.OldestReadyAgeSeconds > 60 {
		t.Fatalf("oldestReadyAgeSeconds = %v", q.Stats.OldestReadyAgeSeconds)
	}
	e.admCall("GET", "/v1/queues/orders.dlq", adminToken, nil, http.StatusOK, &q)
	if q.Stats.OldestReadyAgeSeconds <= 0 {
		t.Fatalf("dlq oldestReadyAgeSeconds = %v", q.Stats.OldestReadyAgeSeconds)
	}
	e.queue("empty")
	e.admCall("GET", "/v1/queues/empty", adminToken, nil, http.StatusOK, &q)
	if q.Stats.OldestReadyAgeSeconds != 0 {
		t.Fatalf("empty queue oldestReadyAgeSeconds = %v", q.Stats.OldestReadyAgeSeconds)
	}
}
