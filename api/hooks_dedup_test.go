package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookq/hookq/ingest"
)

// Dedup through the HTTP API (docs/API.md §4.6 dedup.key / dedup.window): a repeat
// inside the window stores nothing and answers 200 with the first
// messageId; the decision is made in the replicated state machine, so it
// holds under concurrent ingest too.

func TestHookRepeatedProviderEventIDIsADuplicate(t *testing.T) {
	e := newEnv(t)
	for _, p := range hookProviders() {
		if p.wantEventID == "" {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			e := e.hookFor(t)
			e.hookPipe(p.name, ingest.SourceConfig{Verify: p.verify})
			h, query := p.request(t, p.secret, p.body, time.Now())
			resp, out := e.hookPost(p.name, query, p.body, h)
			first := e.hookCheckReply(resp, out, false)
			// The provider retries: signed afresh, a second later.
			h, query = p.request(t, p.secret, p.body, time.Now().Add(time.Second))
			resp, out = e.hookPost(p.name, query, p.body, h)
			dup := e.hookCheckReply(resp, out, true)
			if dup.MessageID != first.MessageID {
				t.Fatalf("duplicate messageId = %s, want the first %s", dup.MessageID, first.MessageID)
			}
			if n := e.hookEnqueued(p.name); n != 1 {
				t.Fatalf("enqueued = %d, want 1", n)
			}
			if got := e.hookNext(p.name); got.meta.MessageID != first.MessageID {
				t.Fatalf("stored messageId = %s, want %s", got.meta.MessageID, first.MessageID)
			}
			e.hookExpectEmpty(p.name)
			if got := e.hookMetric("hookq_ingest_requests_total", map[string]string{"source": p.name, "code": "200"}); got != 1 {
				t.Fatalf("duplicates counter = %v, want 1", got)
			}
		})
	}
}

func TestHookDedupKeyRules(t *testing.T) {
	e := newEnv(t)
	gh := ingest.VerifyConfig{Type: ingest.TypeGitHub, Secrets: []string{"gh"}}
	none := ingest.VerifyConfig{Type: ingest.TypeNone}
	hmacV := ingest.VerifyConfig{Type: ingest.TypeHMAC, Secrets: []string{"k"}, Header: "X-Sig"}
	type req struct {
		body    string
		headers []string
		event   string // X-GitHub-Delivery for github sources
	}
	cases := []struct {
		name    string
		verify  ingest.VerifyConfig
		key     string
		reqs    []req
		wantDup []bool
	}{
		{"header-key-repeats", none, "header:X-Request-Id",
			[]req{{body: "1", headers: []string{"X-Request-Id", "r-1"}}, {body: "2", headers: []string{"X-Request-Id", "r-1"}}, {body: "3", headers: []string{"X-Request-Id", "r-2"}}},
			[]bool{false, true, false}},
		{"header-key-absent-never-dedups", none, "header:X-Request-Id",
			[]req{{body: "1"}, {body: "1"}},
			[]bool{false, false}},
		{"json-pointer-repeats", none, "json:/data/a~1b/0",
			[]req{{body: `{"data":{"a/b":["k1"]},"n":1}`}, {body: `{"n":2,"data":{"a/b":["k1"]}}`}, {body: `{"data":{"a/b":["k2"]}}`}},
			[]bool{false, true, false}},
		{"json-pointer-number-value", none, "json:/id",
			[]req{{body: `{"id":42}`}, {body: `{"id":42,"retry":true}`}},
			[]bool{false, true}},
		{"json-pointer-missing-never-dedups", none, "json:/id",
			[]req{{body: `{"other":1}`}, {body: `{"other":1}`}},
			[]bool{false, false}},
		{"none-stores-every-repeat", gh, "none",
			[]req{{body: "{}", event: "d-1"}, {body: "{}", event: "d-1"}},
			[]bool{false, false}},
		{"provider-key-uses-delivery-id", gh, "provider",
			[]req{{body: `{"a":1}`, event: "d-1"}, {body: `{"a":2}`, event: "d-1"}, {body: `{"a":1}`, event: "d-2"}},
			[]bool{false, true, false}},
		{"provider-key-without-event-id-never-dedups", hmacV, "provider",
			[]req{{body: "same"}, {body: "same"}},
			[]bool{false, false}},
		{"header-key-on-signed-source", gh, "header:X-GitHub-Hook-Id",
			[]req{{body: "{}", event: "d-1", headers: []string{"X-GitHub-Hook-Id", "h"}}, {body: "{}", event: "d-2", headers: []string{"X-GitHub-Hook-Id", "h"}}},
			[]bool{false, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.hookFor(t)
			e.hookPipe(c.name, ingest.SourceConfig{Verify: c.verify, Dedup: ingest.DedupConfig{Key: c.key}})
			var ids []string
			var stored int64
			for i, r := range c.reqs {
				h := hookSign(t, c.verify, hookFirstSecret(c.verify), []byte(r.body), time.Now(), r.event)
				h = hookWith(h, r.headers...)
				got := e.hookOK(c.name, []byte(r.body), h, c.wantDup[i])
				if c.wantDup[i] {
					if !slices.Contains(ids, got.MessageID) {
						t.Fatalf("request %d: duplicate of unknown messageId %s (have %v)", i, got.MessageID, ids)
					}
					continue
				}
				if slices.Contains(ids, got.MessageID) {
					t.Fatalf("request %d: new message reuses messageId %s", i, got.MessageID)
				}
				ids = append(ids, got.MessageID)
				stored++
			}
			if n := e.hookEnqueued(c.name); n != stored {
				t.Fatalf("enqueued = %d, want %d", n, stored)
			}
		})
	}
}

func hookFirstSecret(v ingest.VerifyConfig) string {
	if len(v.Secrets) == 0 {
		return ""
	}
	return v.Secrets[0]
}

func TestHookDedupIsPerSource(t *testing.T) {
	e := newEnv(t)
	e.queue("shared")
	v := ingest.VerifyConfig{Type: ingest.TypeGitHub, Secrets: []string{"gh"}}
	e.source("org-a", ingest.SourceConfig{Queues: []string{"shared"}, Verify: v})
	e.source("org-b", ingest.SourceConfig{Queues: []string{"shared"}, Verify: v})
	h := hookSign(t, v, "gh", []byte("{}"), time.Now(), "same-delivery")
	a := e.hookOK("org-a", []byte("{}"), h, false)
	b := e.hookOK("org-b", []byte("{}"), h, false)
	if a.MessageID == b.MessageID {
		t.Fatalf("two sources share messageId %s", a.MessageID)
	}
	if n := e.hookEnqueued("shared"); n != 2 {
		t.Fatalf("enqueued = %d, want 2", n)
	}
}

func TestHookRefusedRequestDoesNotClaimTheDedupKey(t *testing.T) {
	e := newEnv(t)
	v := ingest.VerifyConfig{Type: ingest.TypeGitHub, Secrets: []string{"gh"}}
	e.hookPipe("gh", ingest.SourceConfig{Verify: v})
	body := []byte(`{"n":1}`)
	forged := hookSign(t, v, "attacker", body, time.Now(), "delivery-1")
	resp, out := e.hookPost("gh", "", body, forged)
	expectError(t, resp, out, http.StatusUnauthorized, "signature_invalid")
	e.hookOK("gh", body, hookSign(t, v, "gh", body, time.Now(), "delivery-1"), false)
	if n := e.hookEnqueued("gh"); n != 1 {
		t.Fatalf("enqueued = %d, want 1", n)
	}
}

func TestHookDuplicateAfterAckStillAnswersTheFirstMessage(t *testing.T) {
	e := newEnv(t)
	v := ingest.VerifyConfig{Type: ingest.TypeGitHub, Secrets: []string{"gh"}}
	e.hookPipe("gh", ingest.SourceConfig{Verify: v})
	body := []byte(`{}`)
	h := hookSign(t, v, "gh", body, time.Now(), "delivery-acked")
	first := e.hookOK("gh", body, h, false)
	resp, out := e.do("GET", "/v1/queues/gh/next?autoAck=true", adminToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("next autoAck: %d %s", resp.StatusCode, out)
	}
	if dup := e.hookOK("gh", body, h, true); dup.MessageID != first.MessageID {
		t.Fatalf("duplicate messageId = %s, want %s", dup.MessageID, first.MessageID)
	}
	e.hookExpectEmpty("gh")
}

func TestHookDedupWindowExpiryAcceptsTheEventAgain(t *testing.T) {
	e := newEnv(t)
	v := ingest.VerifyConfig{Type: ingest.TypeGitHub, Secrets: []string{"gh"}}
	e.hookPipe("gh", ingest.SourceConfig{Verify: v, Dedup: ingest.DedupConfig{Window: time.Second}})
	body := []byte(`{"n":1}`)
	h := hookSign(t, v, "gh", body, time.Now(), "delivery-window")
	first := e.hookOK("gh", body, h, false)
	if dup := e.hookOK("gh", body, h, true); dup.MessageID != first.MessageID {
		t.Fatalf("duplicate inside the window: messageId %s, want %s", dup.MessageID, first.MessageID)
	}
	var again hookReply
	hookEventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		resp, out := e.hookPost("gh", "", body, h)
		switch resp.StatusCode {
		case http.StatusOK:
			e.hookCheckReply(resp, out, true)
			return fmt.Errorf("still a duplicate")
		case http.StatusAccepted:
			again = e.hookCheckReply(resp, out, false)
			return nil
		}
		t.Fatalf("status %d: %s", resp.StatusCode, out)
		return nil
	})
	if again.MessageID == first.MessageID {
		t.Fatalf("after the window: messageId %s reused", again.MessageID)
	}
	if n := e.hookEnqueued("gh"); n != 2 {
		t.Fatalf("enqueued = %d, want 2", n)
	}
	// The new message opens a new window.
	if dup := e.hookOK("gh", body, h, true); dup.MessageID != again.MessageID {
		t.Fatalf("duplicate after re-accept: messageId %s, want %s", dup.MessageID, again.MessageID)
	}
}

func TestHookConcurrentIngestOfOneEventStoresItOnce(t *testing.T) {
	e := newEnv(t)
	v := ingest.VerifyConfig{Type: ingest.TypeGitHub, Secrets: []string{"gh"}}
	e.queue("race-a")
	e.queue("race-b")
	e.source("race", ingest.SourceConfig{Queues: []string{"race-a", "race-b"}, Verify: v})
	const n = 20
	body := []byte(`{"action":"completed"}`)
	h := hookSign(t, v, "gh", body, time.Now(), "delivery-race")
	type result struct {
		resp  *http.Response
		reply []byte
		err   error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			resp, out, err := postHook(e.srv.URL+"/hooks/race", body, h)
			results[i] = result{resp: resp, reply: out, err: err}
		})
	}
	close(start)
	wg.Wait()

	accepted, dups := 0, 0
	ids := map[string]int{}
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("request %d: %v", i, r.err)
		}
		got := e.hookCheckReply(r.resp, r.reply, r.resp.StatusCode == http.StatusOK)
		ids[got.MessageID]++
		if got.Duplicate {
			dups++
		} else {
			accepted++
		}
	}
	if accepted != 1 || dups != n-1 || len(ids) != 1 {
		t.Fatalf("accepted %d, duplicates %d, messageIds %v; want 1, %d, one id", accepted, dups, ids, n-1)
	}
	for _, q := range []string{"race-a", "race-b"} {
		if got := e.hookEnqueued(q); got != 1 {
			t.Fatalf("%s: enqueued = %d, want 1", q, got)
		}
		e.hookNext(q)
		e.hookExpectEmpty(q)
	}
}
