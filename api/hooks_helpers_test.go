package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/ingest"
)

// Helpers for the ingest tests (hooks_*_test.go): posting webhooks,
// leasing what was stored, reading queue stats and scraping /metrics.

// hookReply is the body of a 202 / 200 ingest answer.
type hookReply struct {
	MessageID string `json:"messageId"`
	Duplicate bool   `json:"duplicate"`
}

// hookMeta is the part of X-Hookq-Meta the ingest tests look at.
type hookMeta struct {
	MessageID string            `json:"messageId"`
	Queue     string            `json:"queue"`
	Source    string            `json:"source"`
	EventID   string            `json:"eventId"`
	Headers   map[string]string `json:"headers"`
}

// hookLeased is one message fetched with GET /v1/queues/{q}/next.
type hookLeased struct {
	meta        hookMeta
	body        []byte
	contentType string
}

// postHook sends body to /hooks/{source}{query} with the given headers.
// It never fails the test, so goroutines may call it.
func postHook(url string, body []byte, h http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, vs := range h {
		req.Header[k] = append([]string(nil), vs...)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp, out, err
}

// hookPost posts a webhook to source (query is "" or "?…").
func (e *env) hookPost(source, query string, body []byte, h http.Header) (*http.Response, []byte) {
	e.t.Helper()
	resp, out, err := postHook(e.srv.URL+"/hooks/"+source+query, body, h)
	if err != nil {
		e.t.Fatalf("POST /hooks/%s: %v", source, err)
	}
	return resp, out
}

// hookOK posts a webhook and asserts the answer: 202 for a new message,
// 200 with "duplicate":true for a repeat.
func (e *env) hookOK(source string, body []byte, h http.Header, wantDuplicate bool) hookReply {
	e.t.Helper()
	resp, out := e.hookPost(source, "", body, h)
	return e.hookCheckReply(resp, out, wantDuplicate)
}

func (e *env) hookCheckReply(resp *http.Response, out []byte, wantDuplicate bool) hookReply {
	e.t.Helper()
	want := http.StatusAccepted
	if wantDuplicate {
		want = http.StatusOK
	}
	if resp.StatusCode != want {
		e.t.Fatalf("ingest status = %d, want %d; body %s", resp.StatusCode, want, out)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("ingest content type = %q, want application/json", ct)
	}
	var r hookReply
	if err := json.Unmarshal(out, &r); err != nil || r.MessageID == "" || r.Duplicate != wantDuplicate {
		e.t.Fatalf("ingest body = %s, want a messageId and duplicate=%v", out, wantDuplicate)
	}
	return r
}

// hookNext leases one message of q and asserts there was one.
func (e *env) hookNext(q string) hookLeased {
	e.t.Helper()
	resp, body := e.do("GET", "/v1/queues/"+q+"/next", adminToken, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("next %s: status %d, want 200; body %s", q, resp.StatusCode, body)
	}
	var m hookMeta
	if err := json.Unmarshal([]byte(resp.Header.Get("X-Hookq-Meta")), &m); err != nil {
		e.t.Fatalf("next %s: X-Hookq-Meta: %v", q, err)
	}
	return hookLeased{meta: m, body: body, contentType: resp.Header.Get("Content-Type")}
}

// hookExpectEmpty asserts that q has nothing to lease.
func (e *env) hookExpectEmpty(q string) {
	e.t.Helper()
	resp, body := e.do("GET", "/v1/queues/"+q+"/next", adminToken, nil)
	if resp.StatusCode != http.StatusNoContent {
		e.t.Fatalf("next %s: status %d, want 204 (nothing stored); body %q", q, resp.StatusCode, body)
	}
}

// hookEnqueued is q's enqueued counter (docs/API.md §7.1 stats).
func (e *env) hookEnqueued(q string) int64 {
	e.t.Helper()
	info, err := e.b.Queue(q)
	if err != nil {
		e.t.Fatalf("queue %s: %v", q, err)
	}
	return info.Stats.Enqueued
}

// hookPipe creates a queue and a source of the same name feeding it.
func (e *env) hookPipe(name string, cfg ingest.SourceConfig) {
	e.t.Helper()
	e.queue(name)
	cfg.Queues = []string{name}
	e.source(name, cfg)
}

var hookLabelRE = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// hookMetric scrapes /metrics and returns the value of the sample of name
// whose labels are exactly labels (0 when there is none).
func (e *env) hookMetric(name string, labels map[string]string) float64 {
	e.t.Helper()
	resp, body := e.do("GET", "/metrics", "", nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("metrics: %d", resp.StatusCode)
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		lbls, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		got := map[string]string{}
		for _, m := range hookLabelRE.FindAllStringSubmatch(lbls, -1) {
			got[m[1]] = m[2]
		}
		if !hookSameLabels(got, labels) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			e.t.Fatalf("metrics line %q: %v", line, err)
		}
		return v
	}
	return 0
}

func hookSameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// hookRejected is hookq_ingest_rejections_total{source,reason}.
func (e *env) hookRejected(source, reason string) float64 {
	e.t.Helper()
	return e.hookMetric("hookq_ingest_rejections_total", map[string]string{"source": source, "reason": reason})
}

// hookChunked sends a POST with Transfer-Encoding: chunked over a plain TCP
// connection (so the server certainly sees no Content-Length) and returns
// the status and body of the answer.
func (e *env) hookChunked(path string, body []byte) (*http.Response, []byte) {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: hookq.test\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", path)
	// Two chunks, so the limit is crossed inside the stream.
	half := len(body) / 2
	for _, c := range [][]byte{body[:half], body[half:]} {
		if len(c) > 0 {
			fmt.Fprintf(&req, "%x\r\n%s\r\n", len(c), c)
		}
	}
	req.WriteString("0\r\n\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		e.t.Fatalf("chunked POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, out
}

// hookSign is ingest.Sign for a test: headers a provider would send.
func hookSign(t testing.TB, v ingest.VerifyConfig, secret string, body []byte, at time.Time, eventID string) http.Header {
	t.Helper()
	h, err := ingest.Sign(&ingest.SourceConfig{Verify: v}, secret, body, at, eventID)
	if err != nil {
		t.Fatalf("sign %s: %v", v.Type, err)
	}
	return h
}

// hookHeader builds a header from name/value pairs.
func hookHeader(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// hookWith returns a copy of h with the pairs set (an empty value deletes).
func hookWith(h http.Header, kv ...string) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
			continue
		}
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// hookEventually polls fn until it returns nil or total has passed (NATS style).
func hookEventually(t testing.TB, total, interval time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", total, err)
		}
		time.Sleep(interval)
	}
}
