package main

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Issue 8, finding 5: a source created through the leader is usable on a
// follower at once. A follower that has not applied it yet asks the leader
// before it answers 404, which a provider takes as final.
func TestNewSourceIsNeverNotFoundOnFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	ps := cluster3(t)
	leader := leaderOf(t, ps)
	var followers []*proc
	for _, p := range ps {
		if p != leader {
			followers = append(followers, p)
		}
	}
	mustCall(t, 201, "PUT", leader.url("/v1/queues/q"), map[string]any{})
	for i := range 30 {
		name := fmt.Sprintf("s%d", i)
		mustCall(t, 201, "PUT", leader.url("/v1/sources/"+name), map[string]any{
			"queues": []string{"q"}, "verify": map[string]any{"type": "none"}})
		f := followers[i%len(followers)]
		code, out, _, err := call("POST", f.url("/hooks/"+name), "hi")
		if err != nil || code != 202 {
			t.Fatalf("POST /hooks/%s on follower %s right after creation: %d %v %s", name, f.id, code, err, out)
		}
		// The admin view agrees: a follower reads the source it just
		// learned about, and an unknown one is a real 404.
		mustCall(t, 200, "GET", f.url("/v1/sources/"+name), nil)
	}
	code, out, _, err := call("POST", followers[0].url("/hooks/never-created"), "hi")
	if err != nil || code != 404 {
		t.Fatalf("unknown source on a follower: %d %v %s, want 404", code, err, out)
	}
}

// Issue 8, finding 4 (docs/API.md §2.7: a node without a majority answers 503 to
// leases): a node left alone answers 503 with Retry-After to next, lease
// and stream on an empty queue, and to unknown names, instead of "empty"
// or "not found".
func TestLoneNodeAnswersUnavailableNotEmpty(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	ps := cluster3(t)
	setupQueue(t, leaderOf(t, ps), "empty")
	lone := ps[2]
	// Every node knows the queue and the source before the others go.
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range ps {
		for {
			code, _, _, err := call("GET", p.url("/v1/queues/empty"), nil)
			if err == nil && code == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never saw queue empty", p.id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// While the cluster is whole, the empty queue is just empty.
	if code, out, _, err := call("GET", lone.url("/v1/queues/empty/next"), nil); err != nil || code != 204 {
		t.Fatalf("next on a healthy cluster: %d %v %s, want 204", code, err, out)
	}
	ps[0].kill()
	ps[1].kill()

	// /readyz goes 503 once the node notices; the answers below must hold
	// from then on, every time.
	deadline = time.Now().Add(20 * time.Second)
	for {
		code, _, _, _ := call("GET", lone.url("/readyz"), nil)
		if code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lone node still ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/queues/empty/next", nil},
		{"GET", "/v1/queues/empty/next?wait=2s", nil},
		{"POST", "/v1/queues/empty/lease", map[string]any{"max": 10}},
		{"POST", "/v1/queues/empty/lease", map[string]any{"max": 10, "wait": "2s"}},
		{"GET", "/v1/queues/empty/stream", nil},
		{"POST", "/hooks/empty", "hi"},
		{"POST", "/hooks/unknown-source", "hi"},
		{"GET", "/v1/queues/unknown-queue", nil},
		{"GET", "/v1/queues/unknown-queue/next", nil},
		{"GET", "/v1/queues/unknown-queue/messages", nil},
		{"GET", "/v1/queues/empty/messages/00000000ffffffff", nil},
	} {
		code, out, h, err := call(c.method, lone.url(c.path), c.body)
		if err != nil || code != 503 || h.Get("Retry-After") == "" || !strings.Contains(string(out), `"unavailable"`) {
			t.Errorf("%s %s on a lone node: %d %v Retry-After=%q %s, want 503 unavailable", c.method, c.path, code, err, h.Get("Retry-After"), out)
		}
	}
	if !lone.alive() {
		t.Fatalf("lone node died:\n%s", lone.log())
	}
}

// An open stream on a node that loses its majority ends with an error
// event rather than idling as if the queue were empty.
func TestStreamEndsWhenNodeLosesMajority(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	ps := cluster3(t)
	setupQueue(t, leaderOf(t, ps), "s")
	lone := ps[2]
	req, _ := http.NewRequest("GET", lone.url("/v1/queues/s/stream"), nil)
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	ps[0].kill()
	ps[1].kill()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() == "event: error" {
			if !sc.Scan() || !strings.Contains(sc.Text(), "unavailable") {
				t.Fatalf("error event data: %q", sc.Text())
			}
			return
		}
	}
	t.Fatalf("stream ended without an error event: %v", sc.Err())
}
