package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hookq/hookq/ingest"
)

// Issue 8, finding 6: every setting and field that ends up in the Raft log
// has an upper bound; past it the request is a 400 that names the field,
// and nothing changes.
func TestSettingsOverTheirBoundsAreRefused(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	src := func(over map[string]any) map[string]any {
		b := map[string]any{"queues": []string{"q"}, "verify": map[string]any{"type": "stripe", "secrets": []string{"whsec_x"}}}
		for k, v := range over {
			b[k] = v
		}
		return b
	}
	for _, c := range []struct {
		name, path string
		body       any
		field      string
	}{
		// 600,000h used to overflow now+window and turn dedup off.
		{"dedup window", "/v1/sources/s", src(map[string]any{"dedup": map[string]any{"window": "600000h"}}), "dedup.window"},
		{"tolerance", "/v1/sources/s", src(map[string]any{"verify": map[string]any{"type": "stripe", "secrets": []string{"whsec_x"}, "tolerance": "25h"}}), "verify.tolerance"},
		{"maxBodyBytes", "/v1/sources/s", src(map[string]any{"maxBodyBytes": ingest.MaxMaxBodyBytes + 1}), "maxBodyBytes"},
		{"secrets", "/v1/sources/s", src(map[string]any{"verify": map[string]any{"type": "stripe", "secrets": []string{strings.Repeat("k", ingest.MaxSecretBytes+1)}}}), "verify.secrets"},
		{"retention", "/v1/queues/r", map[string]any{"retention": "9000h"}, "retention"},
		{"backoff", "/v1/queues/r", map[string]any{"backoff": make([]string, 65)}, "backoff"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do("PUT", c.path, adminToken, c.body)
			expectError(t, resp, body, http.StatusBadRequest, "bad_request")
			if !strings.Contains(string(body), c.field) {
				t.Fatalf("error does not name %s: %s", c.field, body)
			}
		})
	}
	for _, p := range []string{"/v1/sources/s", "/v1/queues/r"} {
		resp, body := e.do("GET", p, adminToken, nil)
		expectError(t, resp, body, http.StatusNotFound, "not_found")
	}
	// Right at the bounds is fine.
	resp, body := e.do("PUT", "/v1/sources/s", adminToken, src(map[string]any{
		"dedup": map[string]any{"window": "8760h"}, "maxBodyBytes": ingest.MaxMaxBodyBytes}))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("at the bounds: %d %s", resp.StatusCode, body)
	}
}

// A nack or reject reason is kept in the message's history: one over 1 KiB
// is refused and the delivery stays leased; one at 1 KiB is taken.
func TestLongSettleReasonIsRefusedAndLeaseKept(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "x", "text/plain")
	_, m := e.consMustNext("q", "?visibility=1h")
	long := strings.Repeat("r", 1025)
	for _, c := range []struct{ path, body string }{
		{consPath("q", m.DeliveryID, "nack"), `{"reason":"` + long + `"}`},
		{consPath("q", m.DeliveryID, "reject"), `{"reason":"` + long + `"}`},
		{"/v1/queues/q/settle", `{"nack":[{"deliveryId":"` + m.DeliveryID + `","reason":"` + long + `"}]}`},
		{"/v1/queues/q/settle", `{"reject":[{"deliveryId":"` + m.DeliveryID + `","reason":"` + long + `"}]}`},
	} {
		resp, body := e.do("POST", c.path, adminToken, c.body)
		expectError(t, resp, body, http.StatusBadRequest, "bad_request")
	}
	if st := e.consStats("q"); st.Inflight != 1 {
		t.Fatalf("stats after refused settles: %+v, want the lease kept", st)
	}
	resp, body := e.do("POST", consPath("q", m.DeliveryID, "nack"), adminToken, `{"reason":"`+long[:1024]+`","delay":"1h"}`)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("nack with a 1 KiB reason: %d %s", resp.StatusCode, body)
	}
}

// Dead-letter queues never form a cycle: a → b then b → a is refused, and
// so is a longer loop, with nothing changed.
func TestDeadLetterCycleIsRefused(t *testing.T) {
	e := newEnv(t)
	e.admCall("PUT", "/v1/queues/a", adminToken, map[string]any{"deadLetterQueue": "b"}, http.StatusCreated, nil)
	resp, body := e.do("PUT", "/v1/queues/b", adminToken, map[string]any{"deadLetterQueue": "a"})
	expectError(t, resp, body, http.StatusBadRequest, "bad_request")
	e.admCall("PUT", "/v1/queues/c", adminToken, map[string]any{"deadLetterQueue": "a"}, http.StatusCreated, nil)
	resp, body = e.do("PUT", "/v1/queues/b", adminToken, map[string]any{"deadLetterQueue": "c"})
	expectError(t, resp, body, http.StatusBadRequest, "bad_request")
	if q := e.admGetQueue("b"); q.Settings.DeadLetterQueue != "" {
		t.Fatalf("b changed by a refused put: %+v", q.Settings)
	}
	// A chain without a loop is fine.
	e.admCall("PUT", "/v1/queues/d", adminToken, map[string]any{"deadLetterQueue": "c"}, http.StatusCreated, nil)
}

// Deleting the only queue of a source leaves the source feeding nothing:
// its webhooks answer 503 (the provider retries until an operator fixes
// it), never a 4xx the provider would take as final.
func TestSourceWithoutQueueAnswersUnavailable(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.source("s", ingest.SourceConfig{Queues: []string{"q"}, Verify: ingest.VerifyConfig{Type: "none"}})
	e.admCall("DELETE", "/v1/queues/q", adminToken, nil, http.StatusNoContent, nil)
	resp, body := e.hookPost("s", "", []byte("hi"), nil)
	expectError(t, resp, body, http.StatusServiceUnavailable, "unavailable")
	// Re-pointing the source at a queue heals it.
	e.queue("q2")
	e.admCall("PUT", "/v1/sources/s", adminToken, map[string]any{"queues": []string{"q2"}, "verify": map[string]any{"type": "none"}}, http.StatusOK, nil)
	e.hookOK("s", []byte("hi"), nil, false)
}

// Replay and redrive skip ids no message can have, as they skip unknown
// ones; a list of nothing but such ids selects nothing (an empty list
// would mean "everything").
func TestReplayOfOnlyMalformedIdsReplaysNothing(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.admEnqueue("q", "a")
	e.admEnqueue("q", "b")
	for _, path := range []string{"/v1/queues/q/replay", "/v1/queues/q.dlq/redrive"} {
		resp, body := e.do("POST", path, adminToken, `{"messageIds":["\udcff","`+strings.Repeat("z", 300)+`"]}`)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `:0}`) {
			t.Fatalf("%s with malformed ids: %d %s", path, resp.StatusCode, body)
		}
	}
	if q := e.admGetQueue("q"); q.Stats.Enqueued != 2 {
		t.Fatalf("enqueued = %d after a replay of malformed ids, want 2", q.Stats.Enqueued)
	}
}

// HEAD on next or stream is 405 and leases nothing (a HEAD used to run the
// GET handler: it leased a message and threw the body away).
func TestHeadOnNextLeasesNothing(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.admEnqueue("q", "a")
	for _, p := range []string{"/v1/queues/q/next", "/v1/queues/q/stream"} {
		resp, _ := e.do("HEAD", p, adminToken, nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
			t.Fatalf("HEAD %s: %d Allow=%q", p, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if st := e.consStats("q"); st.Inflight != 0 || st.Delivered != 0 {
		t.Fatalf("stats after HEADs: %+v", st)
	}
}

// A join whose addresses are not host:port is refused before it enters
// the Raft configuration: an unreachable voter would count against the
// quorum (two of them and one lost node stop a three-node cluster).
func TestJoinWithBadAddressIsRefusedAndAddsNoVoter(t *testing.T) {
	e := newRaftEnv(t)
	before := len(e.b.Raft().GetConfiguration().Configuration().Servers)
	for _, body := range []string{
		`{"id":"nz","raftAddr":"\u0000\u00e9"}`,
		`{"id":"ny","raftAddr":"nothost"}`,
		`{"id":"nx","raftAddr":"h:0"}`,
		`{"id":"n w","raftAddr":"127.0.0.1:7999"}`,
		`{"id":"nv","raftAddr":"127.0.0.1:7999","grpcAddr":"nope"}`,
	} {
		resp, out := e.do("POST", "/v1/cluster/join", adminToken, body)
		expectError(t, resp, out, http.StatusBadRequest, "bad_request")
	}
	if after := len(e.b.Raft().GetConfiguration().Configuration().Servers); after != before {
		t.Fatalf("voters %d → %d after refused joins", before, after)
	}
	resp, out := e.do("DELETE", "/v1/cluster/nodes/%FF", adminToken, nil)
	expectError(t, resp, out, http.StatusNotFound, "not_found")
}
