package api_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
)

// consLease calls POST /v1/queues/{q}/lease and decodes the envelopes.
func (e *env) consLease(q, query string, body any) []consEnvelope {
	e.t.Helper()
	resp, raw := e.do("POST", "/v1/queues/"+q+"/lease"+query, adminToken, body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		e.t.Fatalf("lease on %s: %d %s", q, resp.StatusCode, raw)
	}
	var out struct {
		Messages []consEnvelope `json:"messages"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Messages == nil {
		e.t.Fatalf("lease body %s: %v (messages must be an array)", raw, err)
	}
	return out.Messages
}

// settleResult is one item of a batch settle answer.
type settleResult struct {
	DeliveryID string `json:"deliveryId"`
	Status     string `json:"status"`
}

func (e *env) consSettle(q string, body any) []settleResult {
	e.t.Helper()
	resp, raw := e.do("POST", "/v1/queues/"+q+"/settle", adminToken, body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("settle on %s: %d %s", q, resp.StatusCode, raw)
	}
	var out struct {
		Results []settleResult `json:"results"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("settle body %s: %v", raw, err)
	}
	return out.Results
}

func TestBatchLeaseHonoursMaxAndEncodesPayloads(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	binary := "\xff\xfe\x00\x01 not utf-8"
	ids := []string{
		e.consPut("q", `{"n":1,"text":"héllo"}`, "application/json"),
		e.consPut("q", binary, "application/octet-stream"),
		e.consPut("q", "plain", ""),
	}
	start := time.Now()
	got := e.consLease("q", "", map[string]any{"max": 2, "visibility": "5s"})
	if len(got) != 2 {
		t.Fatalf("max 2 leased %d", len(got))
	}
	if m := got[0]; m.Encoding != "utf8" || m.Payload != `{"n":1,"text":"héllo"}` || m.ContentType != "application/json" || m.Meta.MessageID != ids[0] {
		t.Fatalf("utf8 envelope %+v", m)
	}
	m := got[1]
	dec, err := base64.StdEncoding.DecodeString(m.Payload)
	if m.Encoding != "base64" || err != nil || string(dec) != binary || m.ContentType != "application/octet-stream" || m.Meta.MessageID != ids[1] {
		t.Fatalf("base64 envelope %+v (decoded %q, %v)", m, dec, err)
	}
	for _, m := range got {
		end := consTime(t, m.Meta.LeaseExpiresAt)
		if end.Before(start.Add(4*time.Second)) || end.After(time.Now().Add(5*time.Second)) {
			t.Fatalf("leaseExpiresAt %v for visibility 5s", end)
		}
		if m.Meta.Attempt != 1 || m.Meta.Queue != "q" || m.Meta.AckURL != e.srv.URL+consPath("q", m.Meta.DeliveryID, "ack") {
			t.Fatalf("meta %+v", m.Meta)
		}
	}
	if s := e.consStats("q"); s.Inflight != 2 || s.Ready != 1 {
		t.Fatalf("stats after lease of 2: %+v", s)
	}

	rest := e.consLease("q", "", map[string]any{"max": 10})
	if len(rest) != 1 || rest[0].Meta.MessageID != ids[2] || rest[0].ContentType != "application/octet-stream" {
		t.Fatalf("max 10 over 1 left: %+v", rest)
	}
	// Max defaults to 1; an empty queue answers an empty list after wait.
	e.consPut("q", "a", "text/plain")
	e.consPut("q", "b", "text/plain")
	if one := e.consLease("q", "", nil); len(one) != 1 {
		t.Fatalf("lease without body leased %d, want 1", len(one))
	}
	e.consLease("q", "", map[string]any{"max": 5}) // drain
	start = time.Now()
	if none := e.consLease("q", "", map[string]any{"max": 5, "wait": "300ms"}); len(none) != 0 {
		t.Fatalf("empty queue leased %d", len(none))
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("empty lease answered after %v, before wait=300ms", el)
	}
}

func TestBatchLeaseWaitsForTheFirstMessage(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	done := make(chan []consEnvelope, 1)
	go func() { done <- e.consLease("q", "", map[string]any{"max": 3, "wait": "10s"}) }()
	e.consPut("q", "late", "text/plain")
	select {
	case got := <-done:
		if len(got) != 1 || got[0].Payload != "late" {
			t.Fatalf("long-poll lease got %+v", got)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("batch lease did not return the message enqueued while it waited")
	}
}

func TestBatchLeaseAutoAck(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "a", "text/plain")
	e.consPut("q", "b", "text/plain")
	got := e.consLease("q", "?autoAck=true", map[string]any{"max": 5})
	if len(got) != 2 {
		t.Fatalf("leased %d", len(got))
	}
	if s := e.consStats("q"); s.Acked != 2 || s.Inflight != 0 {
		t.Fatalf("stats after autoAck lease: %+v", s)
	}
	for _, env := range got {
		if m := env.Meta; m.LeaseExpiresAt != "" || m.AckURL != "" || m.NackURL != "" || m.RejectURL != "" || m.ExtendURL != "" {
			t.Fatalf("auto-acked envelope meta %+v", m)
		}
	}
	res := e.consSettle("q", map[string]any{"ack": []string{got[0].Meta.DeliveryID}})
	if len(res) != 1 || res[0].Status != "lease_expired" {
		t.Fatalf("settling an auto-acked delivery: %+v", res)
	}
}

func TestBatchLeaseErrorsChangeNothing(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "m", "text/plain")
	other := e.consToken("other", "consume:other")
	for _, tc := range []struct {
		name, query, token string
		body               any
		status             int
		code               string
	}{
		{"max 0", "", adminToken, `{"max":0}`, 400, "bad_request"},
		{"max over 1000", "", adminToken, `{"max":1001}`, 400, "bad_request"},
		{"wait over 30s", "", adminToken, `{"wait":"31s"}`, 400, "bad_request"},
		{"wait not a duration", "", adminToken, `{"wait":"5"}`, 400, "bad_request"},
		{"visibility under 1s", "", adminToken, `{"visibility":"0s"}`, 400, "bad_request"},
		{"malformed JSON", "", adminToken, `{"max":`, 400, "bad_request"},
		{"max not a number", "", adminToken, `{"max":"10"}`, 400, "bad_request"},
		{"unknown field", "", adminToken, `{"max":1,"count":2}`, 400, "bad_request"},
		{"autoAck not a bool", "?autoAck=yes", adminToken, `{}`, 400, "bad_request"},
		{"no token", "", "", `{}`, 401, "unauthenticated"},
		{"other queue's scope", "", other, `{}`, 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.consStats("q")
			resp, body := e.do("POST", "/v1/queues/q/lease"+tc.query, tc.token, tc.body)
			expectError(t, resp, body, tc.status, tc.code)
			e.consUnchanged("q", before)
		})
	}
	resp, body := e.do("POST", "/v1/queues/nope/lease", adminToken, `{"max":1}`)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
}

func TestBatchSettleAnswersAStatusPerItem(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	for _, b := range []string{"acked", "nacked", "rejected", "stale"} {
		e.consPut("q", b, "text/plain")
	}
	got := e.consLease("q", "", map[string]any{"max": 4})
	if len(got) != 4 {
		t.Fatalf("leased %d", len(got))
	}
	d := func(i int) string { return got[i].Meta.DeliveryID }
	if r := e.consSettle("q", map[string]any{"ack": []string{d(3)}}); len(r) != 1 || r[0] != (settleResult{d(3), "ok"}) {
		t.Fatalf("first settle: %+v", r)
	}
	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 28))
	res := e.consSettle("q", map[string]any{
		"ack":    []string{d(0), "garbage", d(3), unknown},
		"nack":   []map[string]string{{"deliveryId": d(1), "delay": "0s", "reason": "retry"}},
		"reject": []map[string]string{{"deliveryId": d(2), "reason": "poison"}},
	})
	want := []settleResult{
		{d(0), "ok"}, {"garbage", "not_found"}, {d(3), "lease_expired"}, {unknown, "not_found"},
		{d(1), "ok"}, {d(2), "ok"},
	}
	if len(res) != len(want) {
		t.Fatalf("results %+v, want %+v", res, want)
	}
	for i := range want {
		if res[i] != want[i] {
			t.Fatalf("result %d = %+v, want %+v", i, res[i], want[i])
		}
	}
	s := e.consStats("q")
	if s.Acked != 2 || s.Ready != 1 || s.Inflight != 0 || s.DeadLettered != 1 {
		t.Fatalf("stats after settle: %+v", s)
	}
	if dlq := e.consStats("q.dlq"); dlq.Ready != 1 {
		t.Fatalf("dlq stats: %+v", dlq)
	}

	// Every item stale: still 200, a status each, nothing changes.
	before := e.consStats("q")
	res = e.consSettle("q", map[string]any{"ack": []string{d(0)}, "reject": []map[string]string{{"deliveryId": d(2)}}})
	if len(res) != 2 || res[0].Status != "lease_expired" || res[1].Status != "lease_expired" {
		t.Fatalf("all-stale settle: %+v", res)
	}
	e.consUnchanged("q", before)
}

func TestBatchSettleNackDelay(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "m", "text/plain")
	got := e.consLease("q", "", nil)
	res := e.consSettle("q", map[string]any{"nack": []map[string]string{{"deliveryId": got[0].Meta.DeliveryID, "delay": "1s"}}})
	if len(res) != 1 || res[0].Status != "ok" {
		t.Fatalf("nack: %+v", res)
	}
	if s := e.consStats("q"); s.Delayed != 1 {
		t.Fatalf("stats after nack with delay: %+v", s)
	}
	e.consWaitStats("q", 5*time.Second, func(s broker.Stats) bool { return s.Ready == 1 && s.Delayed == 0 })
}

func TestBatchSettleErrorsChangeNothing(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "m", "text/plain")
	got := e.consLease("q", "", nil)
	id := got[0].Meta.DeliveryID
	other := e.consToken("other", "consume:other")
	for _, tc := range []struct {
		name, path, token string
		body              any
		status            int
		code              string
	}{
		{"no body", "/v1/queues/q/settle", adminToken, nil, 400, "bad_request"},
		{"malformed JSON", "/v1/queues/q/settle", adminToken, `{"ack":[`, 400, "bad_request"},
		{"ack not a list", "/v1/queues/q/settle", adminToken, `{"ack":"` + id + `"}`, 400, "bad_request"},
		{"unknown field", "/v1/queues/q/settle", adminToken, `{"ack":["` + id + `"],"extend":[]}`, 400, "bad_request"},
		// A bad item fails the whole request: the valid ack is not applied.
		{"bad nack delay", "/v1/queues/q/settle", adminToken, `{"ack":["` + id + `"],"nack":[{"deliveryId":"x","delay":"forever"}]}`, 400, "bad_request"},
		{"too many items", "/v1/queues/q/settle", adminToken, `{"ack":["` + id + strings.Repeat(`","x`, 1000) + `"]}`, 400, "bad_request"},
		{"unknown queue", "/v1/queues/nope/settle", adminToken, `{"ack":["` + id + `"]}`, 404, "not_found"},
		{"no token", "/v1/queues/q/settle", "", `{"ack":["` + id + `"]}`, 401, "unauthenticated"},
		{"other queue's scope", "/v1/queues/q/settle", other, `{"ack":["` + id + `"]}`, 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.consStats("q")
			resp, body := e.do("POST", tc.path, tc.token, tc.body)
			expectError(t, resp, body, tc.status, tc.code)
			e.consUnchanged("q", before)
		})
	}
	if r := e.consSettle("q", map[string]any{"ack": []string{id}}); len(r) != 1 || r[0].Status != "ok" {
		t.Fatalf("the lease did not survive the failed settles: %+v", r)
	}
}
