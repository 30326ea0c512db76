package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"
)

// A long-poll (next?wait=, lease with wait) whose token is deleted while it
// waits ends with 401 within the revocation bound, instead of waiting out
// its wait and leasing a message for a caller that no longer exists.
func TestDeletedTokenEndsItsLongPolls(t *testing.T) {
	e := newKeyedEnv(t)
	e.queue("orders")
	tok := e.admToken("poller", "consume:orders")
	type result struct {
		code int
		body []byte
		took time.Duration
	}
	polls := []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/queues/orders/next?wait=25s", nil},
		{"POST", "/v1/queues/orders/lease", map[string]any{"max": 10, "wait": "25s"}},
	}
	done := make(chan result, len(polls))
	sent := make(chan struct{}, len(polls))
	for _, p := range polls {
		var body io.Reader
		if p.body != nil {
			b, _ := json.Marshal(p.body)
			body = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(p.method, e.srv.URL+p.path, body)
		req.Header.Set("Authorization", "Bearer "+tok)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { sent <- struct{}{} },
		}))
		go func() {
			start := time.Now()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- result{code: -1, body: []byte(err.Error())}
				return
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- result{resp.StatusCode, out, time.Since(start)}
		}()
	}
	// Revoke once both requests are on the server (it authenticates them
	// as soon as it reads them, long before their 25s wait ends).
	for range polls {
		<-sent
	}
	deleted := time.Now()
	e.admCall("DELETE", "/v1/tokens/poller", adminToken, nil, http.StatusNoContent, nil)
	for range polls {
		select {
		case r := <-done:
			if r.code != http.StatusUnauthorized || errorCode(t, r.body) != "unauthenticated" {
				t.Fatalf("long-poll after its token was deleted: %d %s", r.code, r.body)
			}
		case <-time.After(time.Until(deleted.Add(revocationBound))):
			t.Fatalf("long-poll still waiting %v after its token was deleted", revocationBound)
		}
	}
	// Nothing was leased for the revoked caller.
	e.admEnqueue("orders", `{"n":1}`)
	if st := e.consStats("orders"); st.Inflight != 0 {
		t.Fatalf("stats: %+v", st)
	}
}
