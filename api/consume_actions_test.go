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

func TestAckEndsTheLeaseOnce(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "m", "text/plain")
	_, m := e.consMustNext("q", "")
	resp, body := e.do("POST", consPath("q", m.DeliveryID, "ack"), adminToken, nil)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("ack: %d %q", resp.StatusCode, body)
	}
	s := e.consStats("q")
	if s.Acked != 1 || s.Inflight != 0 || s.Ready != 0 {
		t.Fatalf("stats after ack: %+v", s)
	}
	resp, body = e.do("POST", m.AckURL, adminToken, nil)
	expectError(t, resp, body, http.StatusConflict, "lease_expired")
	e.consUnchanged("q", s)
}

func TestNackWithDelayDelaysThenRedelivers(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	id := e.consPut("q", "m", "text/plain")
	_, m := e.consMustNext("q", "")
	nackedAt := time.Now()
	resp, body := e.do("POST", m.NackURL, adminToken, `{"reason":"busy","delay":"1s"}`, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("nack: %d %s", resp.StatusCode, body)
	}
	if s := e.consStats("q"); s.Delayed != 1 || s.Inflight != 0 || s.Ready != 0 {
		t.Fatalf("stats after nack with delay: %+v", s)
	}
	if resp, _, _ := e.consNext("q", "", adminToken); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("next during the delay: %d, want 204", resp.StatusCode)
	}
	_, m2 := e.consMustNext("q", "?wait=5s")
	if el := time.Since(nackedAt); el < time.Second {
		t.Fatalf("redelivered %v after a nack with delay 1s", el)
	}
	if m2.MessageID != id || m2.Attempt != 2 || m2.DeliveryID == m.DeliveryID {
		t.Fatalf("redelivery meta %+v", m2)
	}
}

func TestNackWithoutBodyUsesBackoffAndZeroDelayIsImmediate(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "m", "text/plain")
	_, m := e.consMustNext("q", "")
	if resp, body := e.do("POST", m.NackURL, adminToken, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("nack: %d %s", resp.StatusCode, body)
	}
	if s := e.consStats("q"); s.Delayed != 1 { // backoff[0] = 1s
		t.Fatalf("stats after nack without delay: %+v", s)
	}
	_, m = e.consMustNext("q", "?wait=5s")
	if resp, body := e.do("POST", m.NackURL, adminToken, map[string]string{"delay": "0s"}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("nack delay 0s: %d %s", resp.StatusCode, body)
	}
	if s := e.consStats("q"); s.Ready != 1 || s.Delayed != 0 {
		t.Fatalf("stats after nack with delay 0s: %+v", s)
	}
}

func TestRejectDeadLettersIntoTheDLQ(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	id := e.consPut("q", "poison", "text/plain")
	_, m := e.consMustNext("q", "")
	if resp, body := e.do("POST", m.RejectURL, adminToken, `{"reason":"schema"}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reject: %d %s", resp.StatusCode, body)
	}
	if s := e.consStats("q"); s.Ready != 0 || s.Inflight != 0 || s.DeadLettered != 1 {
		t.Fatalf("queue stats after reject: %+v", s)
	}
	if s := e.consStats("q.dlq"); s.Ready != 1 {
		t.Fatalf("dlq stats after reject: %+v", s)
	}
	resp, body, dm := e.consNext("q.dlq", "", adminToken)
	if resp.StatusCode != http.StatusOK || string(body) != "poison" || dm.MessageID != id || dm.Queue != "q.dlq" {
		t.Fatalf("next on dlq: %d %q %+v", resp.StatusCode, body, dm)
	}
	var dl struct {
		DeadLetter struct {
			OriginQueue string `json:"originQueue"`
			Reason      string `json:"reason"`
			Attempts    int    `json:"attempts"`
			DeadAt      string `json:"deadAt"`
		} `json:"deadLetter"`
	}
	if err := json.Unmarshal([]byte(resp.Header.Get("X-Hookq-Meta")), &dl); err != nil {
		t.Fatal(err)
	}
	if d := dl.DeadLetter; d.OriginQueue != "q" || d.Reason != "schema" || d.Attempts != 1 {
		t.Fatalf("deadLetter %+v", d)
	}
	consTime(t, dl.DeadLetter.DeadAt)

	// Without a body the reason is "rejected".
	e.consPut("q", "second", "text/plain")
	_, m = e.consMustNext("q", "")
	if resp, body := e.do("POST", m.RejectURL, adminToken, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reject without body: %d %s", resp.StatusCode, body)
	}
	resp, body, _ = e.consNext("q.dlq", "?wait=1s", adminToken) // the first is still leased
	if err := json.Unmarshal([]byte(resp.Header.Get("X-Hookq-Meta")), &dl); err != nil || string(body) != "second" || dl.DeadLetter.Reason != "rejected" {
		t.Fatalf("default reject reason: %q %+v %v", body, dl, err)
	}
}

func TestExtendReturnsTheNewLeaseEndClampedAt12hAfterLeaseStart(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "m", "text/plain")
	_, m := e.consMustNext("q", "?visibility=10s")
	first := consTime(t, m.LeaseExpiresAt)
	leasedAt := first.Add(-10 * time.Second)

	extend := func(vis string) time.Time {
		t.Helper()
		resp, body := e.do("POST", m.ExtendURL, adminToken, map[string]string{"visibility": vis})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("extend %s: %d %s", vis, resp.StatusCode, body)
		}
		var out struct {
			LeaseExpiresAt string `json:"leaseExpiresAt"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("extend body %s: %v", body, err)
		}
		return consTime(t, out.LeaseExpiresAt)
	}
	before := time.Now()
	got := extend("60s")
	if lo, hi := before.Add(59*time.Second), time.Now().Add(60*time.Second); got.Before(lo) || got.After(hi) || !got.After(first) {
		t.Fatalf("extend 60s: lease ends %v, want within [%v, %v]", got, lo, hi)
	}
	if got := extend("12h"); !got.Equal(leasedAt.Add(12 * time.Hour)) {
		t.Fatalf("extend 12h: lease ends %v, want the clamp %v (12h after the lease began)", got, leasedAt.Add(12*time.Hour))
	}
	if s := e.consStats("q"); s.Inflight != 1 {
		t.Fatalf("stats after extend: %+v", s)
	}
	if resp, body := e.do("POST", m.AckURL, adminToken, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("ack after extend: %d %s", resp.StatusCode, body)
	}
}

// actionBodies are valid bodies for each delivery action.
var actionBodies = map[string]any{
	"ack": nil, "nack": `{"delay":"0s"}`, "reject": `{"reason":"x"}`, "extend": `{"visibility":"60s"}`,
}

func TestStaleDeliveryAnswersLeaseExpiredOnAllFour(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "settled", "text/plain")
	e.consPut("q", "lapsed", "text/plain")
	_, settled := e.consMustNext("q", "")
	if resp, body := e.do("POST", settled.AckURL, adminToken, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("ack: %d %s", resp.StatusCode, body)
	}
	_, lapsed := e.consMustNext("q", "?visibility=1s")
	e.consWaitStats("q", 5*time.Second, func(s broker.Stats) bool { return s.Inflight == 0 && s.Ready == 1 })

	for _, d := range []struct {
		name string
		m    metaT
	}{{"settled", settled}, {"lapsed", lapsed}} {
		for _, action := range []string{"ack", "nack", "reject", "extend"} {
			t.Run(d.name+"/"+action, func(t *testing.T) {
				before := e.consStats("q")
				resp, body := e.do("POST", consPath("q", d.m.DeliveryID, action), adminToken, actionBodies[action])
				expectError(t, resp, body, http.StatusConflict, "lease_expired")
				e.consUnchanged("q", before)
				if s := e.consStats("q.dlq"); s.Ready != 0 {
					t.Fatalf("a stale %s dead-lettered: %+v", action, s)
				}
			})
		}
	}
}

func TestDeliveryActionErrorsChangeNothing(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.queue("other")
	e.consPut("q", "m", "text/plain")
	_, m := e.consMustNext("q", "")
	other := e.consToken("other", "consume:other")
	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 28)) // well-formed, never leased
	live := func(action string) string { return consPath("q", m.DeliveryID, action) }
	big := `{"reason":"` + strings.Repeat("x", 2<<20) + `"}`

	type tc struct {
		name, path, token string
		body              any
		status            int
		code              string
	}
	cases := []tc{
		{"unknown action", live("bogus"), adminToken, nil, 404, "not_found"},
		{"nack over the JSON limit", live("nack"), adminToken, big, 413, "payload_too_large"},
		{"nack delay over 12h", live("nack"), adminToken, `{"delay":"13h"}`, 400, "bad_request"},
		{"nack negative delay", live("nack"), adminToken, `{"delay":"-1s"}`, 400, "bad_request"},
		{"nack delay not a duration", live("nack"), adminToken, `{"delay":"soon"}`, 400, "bad_request"},
		{"nack unknown field", live("nack"), adminToken, `{"delay":"1s","requeue":true}`, 400, "bad_request"},
		{"extend without body", live("extend"), adminToken, nil, 400, "bad_request"},
		{"extend without visibility", live("extend"), adminToken, `{}`, 400, "bad_request"},
		{"extend visibility under 1s", live("extend"), adminToken, `{"visibility":"0s"}`, 400, "bad_request"},
		{"extend visibility over 12h", live("extend"), adminToken, `{"visibility":"13h"}`, 400, "bad_request"},
		{"delivery of another queue", consPath("other", m.DeliveryID, "ack"), adminToken, nil, 404, "not_found"},
		{"unknown queue", consPath("nope", m.DeliveryID, "ack"), adminToken, nil, 404, "not_found"},
	}
	for _, action := range []string{"ack", "nack", "reject", "extend"} {
		cases = append(cases,
			tc{action + " malformed deliveryId", consPath("q", "not-a-delivery", action), adminToken, actionBodies[action], 404, "not_found"},
			tc{action + " unknown deliveryId", consPath("q", unknown, action), adminToken, actionBodies[action], 404, "not_found"},
			tc{action + " no token", live(action), "", actionBodies[action], 401, "unauthenticated"},
			tc{action + " other queue's scope", live(action), other, actionBodies[action], 403, "forbidden"},
		)
		if action != "ack" {
			cases = append(cases,
				tc{action + " malformed JSON", live(action), adminToken, `{"reason":`, 400, "bad_request"},
				tc{action + " wrong JSON type", live(action), adminToken, `{"reason":7}`, 400, "bad_request"},
			)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.consStats("q")
			resp, body := e.do("POST", c.path, c.token, c.body)
			expectError(t, resp, body, c.status, c.code)
			e.consUnchanged("q", before)
		})
	}
	// The lease survived every failed call.
	if resp, body := e.do("POST", m.AckURL, adminToken, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("ack after the failed calls: %d %s", resp.StatusCode, body)
	}
}
