package api_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// admCount posts body to path and returns the single count in the answer.
func (e *env) admCount(path, key string, body any) int64 {
	e.t.Helper()
	var out map[string]int64
	e.admCall("POST", path, adminToken, body, http.StatusOK, &out)
	n, ok := out[key]
	if !ok || len(out) != 1 {
		e.t.Fatalf("POST %s answered %v, want {%q: N}", path, out, key)
	}
	return n
}

// admReady lists q's ready messages, newest first.
func (e *env) admReady(q string) []admMessage {
	e.t.Helper()
	var p admPage
	e.admCall("GET", "/v1/queues/"+q+"/messages?state=ready", adminToken, nil, http.StatusOK, &p)
	return p.Messages
}

func TestReplayByIDsAndByRange(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	ids := []string{e.admEnqueue("orders", `{"n":0}`), e.admEnqueue("orders", `{"n":1}`), e.admEnqueue("orders", `{"n":2}`)}
	for _, d := range e.admLease("orders", 3, time.Hour) {
		e.admSettle("orders", admAck(d.DeliveryID))
	}
	recv := make([]string, 3)
	for i, id := range ids {
		recv[i] = e.admMessage("orders", id).ReceivedAt
	}

	if n := e.admCount("/v1/queues/orders/replay", "replayed", map[string]any{"messageIds": []string{ids[0]}}); n != 1 {
		t.Fatalf("replayed %d, want 1", n)
	}
	ready := e.admReady("orders")
	if len(ready) != 1 || ready[0].ReplayOf == nil || *ready[0].ReplayOf != ids[0] || ready[0].MessageID <= ids[2] || ready[0].ReceivedAt < recv[2] {
		t.Fatalf("after replay by id: %+v", ready)
	}
	copy0 := e.admMessage("orders", ready[0].MessageID)
	if copy0.Payload != `{"n":0}` || copy0.Attempts != 0 || len(copy0.Deliveries) != 0 || copy0.Headers["X-Test"] != "yes" {
		t.Fatalf("replayed copy = %+v", copy0)
	}
	if orig := e.admMessage("orders", ids[0]); orig.State != "acked" {
		t.Fatalf("original after replay: %+v", orig)
	}

	// [since, until): since is inclusive, until exclusive.
	if n := e.admCount("/v1/queues/orders/replay", "replayed", map[string]string{"since": recv[1], "until": recv[2]}); n != 1 {
		t.Fatalf("range replayed %d, want 1", n)
	}
	ready = e.admReady("orders")
	if len(ready) != 2 || *ready[0].ReplayOf != ids[1] {
		t.Fatalf("after range replay: %+v", ready)
	}
	if n := e.admCount("/v1/queues/orders/replay", "replayed", map[string]string{"until": recv[1]}); n != 1 {
		t.Fatalf("until-only replayed %d, want 1", n)
	}
	if n := e.admCount("/v1/queues/orders/replay", "replayed", map[string]any{"messageIds": []string{}}); n != 0 {
		t.Fatalf("empty id list replayed %d", n)
	}
	if st := e.admGetQueue("orders").Stats; st.Enqueued != 6 || st.Ready != 3 {
		t.Fatalf("stats after replays %+v", st)
	}
}

func TestReplayRejectsBadRequests(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	id := e.admEnqueue("orders", `{}`)
	before := e.admGetQueue("orders")
	now := time.Now().UTC().Format(time.RFC3339)
	cases := []struct{ name, body, field string }{
		{"ids and range", `{"messageIds":["` + id + `"],"since":"` + now + `"}`, "messageIds"},
		{"ids and until", `{"messageIds":[],"until":"` + now + `"}`, "messageIds"},
		{"bad since", `{"since":"yesterday"}`, "since"},
		{"bad until", `{"until":"2024-13-01T00:00:00Z"}`, "until"},
		{"until before since", `{"since":"2024-05-02T00:00:00Z","until":"2024-05-01T00:00:00Z"}`, "until"},
		{"malformed JSON", `{"messageIds":`, "malformed JSON"},
		{"unknown field", `{"ids":["` + id + `"]}`, "ids"},
		{"ids wrong type", `{"messageIds":"` + id + `"}`, "messageIds"},
	}
	for _, c := range cases {
		resp, body := e.do("POST", "/v1/queues/orders/replay", adminToken, c.body)
		admExpect400(t, resp, body, c.field)
	}
	resp, body := e.do("POST", "/v1/queues/ghost/replay", adminToken, `{}`)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
	resp, body = e.do("POST", "/v1/queues/orders/replay", e.admToken("r", "read:*", "consume:*"), `{}`)
	expectError(t, resp, body, http.StatusForbidden, "forbidden")
	resp, body = e.do("POST", "/v1/queues/orders/replay", "", `{}`)
	expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	if after := e.admGetQueue("orders"); !reflect.DeepEqual(after, before) {
		t.Fatalf("queue changed by rejected replays: %+v, was %+v", after.Stats, before.Stats)
	}
}

func TestRedriveMovesDeadLettersBack(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	ids := []string{e.admEnqueue("orders", `{}`), e.admEnqueue("orders", `{}`), e.admEnqueue("orders", `{}`)}
	for _, d := range e.admLease("orders", 3, time.Hour) {
		e.admSettle("orders", admReject(d.DeliveryID))
	}
	dead := e.admMessage("orders.dlq", ids[0])
	if dead.State != "ready" || dead.Attempts != 0 || dead.DeadLetter == nil || dead.DeadLetter.OriginQueue != "orders" ||
		dead.DeadLetter.Reason != "rejected" || dead.DeadLetter.Attempts != 1 || !admIsUTC(dead.DeadLetter.DeadAt) || len(dead.Deliveries) != 1 {
		t.Fatalf("dead-lettered message = %+v", dead)
	}
	if st := e.admGetQueue("orders").Stats; st != (admStats{Enqueued: 3, Delivered: 3, DeadLettered: 3}) {
		t.Fatalf("origin stats %+v", st)
	}

	// Redrive is for dead-letter queues only; refusals change nothing.
	origin, dlq := e.admGetQueue("orders"), e.admGetQueue("orders.dlq")
	for _, body := range []string{`{}`, `{"messageIds":[]}`, `{"messageIds":["` + ids[0] + `"]}`} {
		resp, raw := e.do("POST", "/v1/queues/orders/redrive", adminToken, body)
		expectError(t, resp, raw, http.StatusBadRequest, "bad_request")
	}
	resp, raw := e.do("POST", "/v1/queues/orders.dlq/redrive", adminToken, `{"messageIds":`)
	expectError(t, resp, raw, http.StatusBadRequest, "bad_request")
	resp, raw = e.do("POST", "/v1/queues/ghost/redrive", adminToken, `{}`)
	expectError(t, resp, raw, http.StatusNotFound, "not_found")
	resp, raw = e.do("POST", "/v1/queues/orders.dlq/redrive", e.admToken("c", "consume:*", "read:*"), `{}`)
	expectError(t, resp, raw, http.StatusForbidden, "forbidden")
	resp, raw = e.do("POST", "/v1/queues/orders.dlq/redrive", "", `{}`)
	expectError(t, resp, raw, http.StatusUnauthorized, "unauthenticated")
	if a, b := e.admGetQueue("orders"), e.admGetQueue("orders.dlq"); !reflect.DeepEqual(a, origin) || !reflect.DeepEqual(b, dlq) {
		t.Fatalf("refused redrives changed state: %+v %+v", a.Stats, b.Stats)
	}

	if n := e.admCount("/v1/queues/orders.dlq/redrive", "redriven", map[string]any{"messageIds": []string{ids[0], "bogus"}}); n != 1 {
		t.Fatalf("redriven %d, want 1", n)
	}
	back := e.admMessage("orders", ids[0])
	if back.State != "ready" || back.Attempts != 0 || back.DeadLetter != nil {
		t.Fatalf("redriven message = %+v", back)
	}
	resp, raw = e.do("GET", "/v1/queues/orders.dlq/messages/"+ids[0], adminToken, nil)
	expectError(t, resp, raw, http.StatusNotFound, "not_found")
	if n := e.admCount("/v1/queues/orders.dlq/redrive", "redriven", map[string]any{"messageIds": []string{}}); n != 0 {
		t.Fatalf("empty id list redrove %d", n)
	}
	if n := e.admCount("/v1/queues/orders.dlq/redrive", "redriven", map[string]any{}); n != 2 {
		t.Fatalf("redrive all: %d, want 2", n)
	}
	if st := e.admGetQueue("orders").Stats; st != (admStats{Ready: 3, Enqueued: 6, Delivered: 3, DeadLettered: 3}) {
		t.Fatalf("origin stats after redrive %+v", st)
	}
	if st := e.admGetQueue("orders.dlq").Stats; st.Ready != 0 || st.Enqueued != 3 {
		t.Fatalf("dlq stats after redrive %+v", st)
	}
	if n := e.admCount("/v1/queues/orders.dlq/redrive", "redriven", nil); n != 0 {
		t.Fatalf("redrive of an empty DLQ: %d", n)
	}
}

func TestNackAtMaxAttemptsDeadLetters(t *testing.T) {
	e := newEnv(t)
	e.admCall("PUT", "/v1/queues/orders", adminToken, `{"maxAttempts":1}`, http.StatusCreated, nil)
	id := e.admEnqueue("orders", `{}`)
	e.admSettle("orders", admNack(e.admLease("orders", 1, time.Hour)[0].DeliveryID, 0))
	m := e.admMessage("orders.dlq", id)
	if m.DeadLetter == nil || m.DeadLetter.Reason != "max_attempts" || m.DeadLetter.Attempts != 1 {
		t.Fatalf("dead letter = %+v", m.DeadLetter)
	}
	if st := e.admGetQueue("orders").Stats; st.DeadLettered != 1 || st.Ready != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPurgeRemovesMessagesAndEndsLeases(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	for i := 0; i < 4; i++ {
		e.admEnqueue("orders", `{}`)
	}
	ds := e.admLease("orders", 3, time.Hour)
	e.admSettle("orders", admAck(ds[0].DeliveryID))
	e.admSettle("orders", admNack(ds[1].DeliveryID, time.Hour))
	before := e.admGetQueue("orders")
	if st := before.Stats; st.Ready != 1 || st.Inflight != 1 || st.Delayed != 1 || st.Acked != 1 {
		t.Fatalf("before purge %+v", st)
	}
	resp, body := e.do("POST", "/v1/queues/ghost/purge", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
	resp, body = e.do("POST", "/v1/queues/orders/purge", e.admToken("c", "consume:*", "read:*"), nil)
	expectError(t, resp, body, http.StatusForbidden, "forbidden")
	resp, body = e.do("POST", "/v1/queues/orders/purge", "wrong", nil)
	expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	if after := e.admGetQueue("orders"); !reflect.DeepEqual(after, before) {
		t.Fatalf("refused purges changed state: %+v", after.Stats)
	}

	if n := e.admCount("/v1/queues/orders/purge", "purged", nil); n != 3 {
		t.Fatalf("purged %d, want 3", n)
	}
	want := admStats{Acked: 1, Enqueued: 4, Delivered: 3}
	if st := e.admGetQueue("orders").Stats; st != want {
		t.Fatalf("after purge %+v, want %+v", st, want)
	}
	resp, body = e.do("POST", "/v1/queues/orders/deliveries/"+ds[2].DeliveryID+"/ack", adminToken, nil)
	expectError(t, resp, body, http.StatusConflict, "lease_expired")
	if st := e.admGetQueue("orders").Stats; st != want {
		t.Fatalf("stale ack changed stats: %+v", st)
	}
	var p admPage
	e.admCall("GET", "/v1/queues/orders/messages", adminToken, nil, http.StatusOK, &p)
	if len(p.Messages) != 1 || p.Messages[0].State != "acked" {
		t.Fatalf("messages after purge: %+v", p.Messages)
	}
	if n := e.admCount("/v1/queues/orders/purge", "purged", nil); n != 0 {
		t.Fatalf("second purge: %d", n)
	}
}

func TestEmptySelectionIsCheckedLikeAnyOther(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	empty := map[string]any{"messageIds": []string{}}
	for _, tc := range []struct {
		path   string
		status int
		code   string
		msg    string
	}{
		{"/v1/queues/orders/redrive", http.StatusBadRequest, "bad_request", `queue \"orders\": queue is not a dead-letter queue`},
		{"/v1/queues/nope/redrive", http.StatusNotFound, "not_found", `queue \"nope\": queue not found`},
		{"/v1/queues/nope/replay", http.StatusNotFound, "not_found", `queue \"nope\": queue not found`},
	} {
		resp, body := e.do("POST", tc.path, adminToken, empty)
		expectError(t, resp, body, tc.status, tc.code)
		if !strings.Contains(string(body), tc.msg) {
			t.Errorf("%s: body %s, want message %q", tc.path, body, tc.msg)
		}
	}
}
