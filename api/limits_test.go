package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/ingest"
)

// limitBodyTimeout is the body read timeout of these tests' servers.
const limitBodyTimeout = 300 * time.Millisecond

// newLimitEnv is newEnv with cfg's limits, served through api.Server.Serve
// (so MaxConns applies) on a real listener.
func newLimitEnv(t testing.TB, cfg api.Config) *env {
	t.Helper()
	b := brokertest.NewFake(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPAddr, cfg.AdminToken = ln.Addr().String(), adminToken
	s := api.New(cfg, b)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
	})
	// The env helpers only use the server's URL.
	return &env{t: t, b: b, api: s, srv: &httptest.Server{URL: "http://" + ln.Addr().String()}}
}

// stalledRequest writes head (a request line and headers, no final CRLF
// pair) plus the start of a body, then stops sending, and returns the
// connection.
func stalledRequest(t testing.TB, addr, head, partial string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head+"\r\n\r\n"+partial); err != nil {
		t.Fatal(err)
	}
	return c
}

// readCut reads the server's answer on a stalled connection and then the
// connection's end; it fails unless the server closes within limit.
func readCut(t testing.TB, c net.Conn, limit time.Duration) (*http.Response, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body within %v: %v", limit, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open after the answer: %v", err)
	}
	return resp, body
}

// A body that stops arriving is answered 408 request_timeout, no sooner
// than the body timeout and within it plus slack, the connection is
// closed, and nothing is enqueued: on ingest, on a JSON endpoint, chunked
// or with a Content-Length.
func TestStalledBodyIsAnswered408WithinTheBodyTimeout(t *testing.T) {
	e := newLimitEnv(t, api.Config{BodyReadTimeout: limitBodyTimeout})
	e.queue("orders")
	e.source("orders", ingest.SourceConfig{Queues: []string{"orders"}, Verify: ingest.VerifyConfig{Type: "none"}})
	before := e.consStats("orders")
	addr := strings.TrimPrefix(e.srv.URL, "http://")

	cases := []struct{ name, head, partial string }{
		{"ingest", "POST /hooks/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 100000", "0123456789"},
		{"ingest chunked", "POST /hooks/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked", "a\r\n0123456789\r\n"},
		{"lease", "POST /v1/queues/orders/lease HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + adminToken + "\r\nContent-Length: 100", `{"wait":`},
		{"unknown source", "POST /hooks/nope HTTP/1.1\r\nHost: x\r\nContent-Length: 100000", "0123456789"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c := stalledRequest(t, addr, tc.head, tc.partial)
			resp, body := readCut(t, c, limitBodyTimeout+5*time.Second)
			took := time.Since(start)
			t.Logf("answered %d after %v", resp.StatusCode, took)
			if tc.name == "unknown source" {
				// Answered before the body is read; net/http's attempt to
				// consume the rest is what the deadline cuts.
				if resp.StatusCode != http.StatusNotFound {
					t.Fatalf("status %d %s, want 404", resp.StatusCode, body)
				}
				return
			}
			expectError(t, resp, body, http.StatusRequestTimeout, "request_timeout")
			if took < limitBodyTimeout {
				t.Fatalf("cut after %v, before the body timeout %v", took, limitBodyTimeout)
			}
		})
	}
	e.consUnchanged("orders", before)

	// The node still ingests normally.
	resp, body := e.do("POST", "/hooks/orders", "", `{"ok":true}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest after the stalls: %d %s", resp.StatusCode, body)
	}
}

// A body sent slowly but completely within the timeout is accepted.
func TestSlowButCompleteBodyIsAccepted(t *testing.T) {
	e := newLimitEnv(t, api.Config{BodyReadTimeout: 5 * time.Second})
	e.queue("orders")
	e.source("orders", ingest.SourceConfig{Queues: []string{"orders"}, Verify: ingest.VerifyConfig{Type: "none"}})
	c := stalledRequest(t, strings.TrimPrefix(e.srv.URL, "http://"), "POST /hooks/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\nConnection: close", "0123456789")
	if _, err := io.WriteString(c, "abcdefghij"); err != nil {
		t.Fatal(err)
	}
	resp, body := readCut(t, c, 10*time.Second)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d %s, want 202", resp.StatusCode, body)
	}
}

// A lease whose body asks to wait, a next?wait= and an SSE stream are not
// cut by the body timeout: each is still open, and gets its message, well
// after the timeout has passed.
func TestLongPollsAndStreamsOutliveTheBodyTimeout(t *testing.T) {
	e := newLimitEnv(t, api.Config{BodyReadTimeout: limitBodyTimeout})
	for _, q := range []string{"lp-lease", "lp-next", "lp-stream"} {
		e.queue(q)
	}
	stream := e.openStream("lp-stream", "")

	type result struct {
		status int
		body   []byte
		err    error
	}
	leaseDone, nextDone := make(chan result, 1), make(chan result, 1)
	call := func(method, path string, body io.Reader, out chan<- result) {
		req, _ := http.NewRequest(method, e.srv.URL+path, body)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- result{resp.StatusCode, b, err}
	}
	go call("POST", "/v1/queues/lp-lease/lease", strings.NewReader(`{"wait":"25s"}`), leaseDone)
	go call("GET", "/v1/queues/lp-next/next?wait=25s", nil, nextDone)

	// The scenario is the passage of time: well past the body timeout,
	// nothing has ended.
	past := time.NewTimer(5 * limitBodyTimeout)
	select {
	case r := <-leaseDone:
		t.Fatalf("lease ended before any message: %+v %s", r, r.body)
	case r := <-nextDone:
		t.Fatalf("next ended before any message: %+v %s", r, r.body)
	case <-past.C:
	}
	ids := map[string]string{}
	for _, q := range []string{"lp-lease", "lp-next", "lp-stream"} {
		ids[q] = e.consPut(q, "m-"+q, "text/plain")
	}

	r := <-leaseDone
	var lease struct {
		Messages []consEnvelope `json:"messages"`
	}
	if r.err != nil || r.status != http.StatusOK || json.Unmarshal(r.body, &lease) != nil || len(lease.Messages) != 1 || lease.Messages[0].Meta.MessageID != ids["lp-lease"] {
		t.Fatalf("lease = %d %v %s, want the message %s", r.status, r.err, r.body, ids["lp-lease"])
	}
	r = <-nextDone
	if r.err != nil || r.status != http.StatusOK || string(r.body) != "m-lp-next" {
		t.Fatalf("next = %d %v %s, want the message", r.status, r.err, r.body)
	}
	if m := stream.message(10 * time.Second); m.Meta.MessageID != ids["lp-stream"] {
		t.Fatalf("stream delivered %s, want %s", m.Meta.MessageID, ids["lp-stream"])
	}
}

// syncBuffer is a log sink the server and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// At MaxConns open connections, all serving a request (none idle, see
// TestMaxConnsClosesIdleConnectionsForNewClients), the next one waits,
// unserved, until one closes; then it is served.
func TestMaxConnsMakesTheNextConnectionWait(t *testing.T) {
	var logs syncBuffer
	e := newLimitEnv(t, api.Config{MaxConns: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	e.queue("orders")
	e.source("orders", ingest.SourceConfig{Queues: []string{"orders"}, Verify: ingest.VerifyConfig{Type: "none"}})
	http.DefaultClient.CloseIdleConnections()
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	get := func(c net.Conn, br *bufio.Reader) (*http.Response, error) {
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return nil, err
		}
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
		}
		return resp, err
	}
	var held []net.Conn
	for i := 0; i < 2; i++ { // mid-body: active, never closed to make room
		held = append(held, stalledRequest(t, addr, "POST /hooks/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 100000", "0123456789"))
	}
	third, err := net.Dial("tcp", addr) // queued by the kernel
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { third.Close() })
	answered := make(chan error, 1)
	go func() {
		third.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := get(third, bufio.NewReader(third))
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		answered <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "connection limit reached") {
		if time.Now().After(deadline) {
			t.Fatalf("the server never reached its connection limit; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The listener is now waiting for a free slot: the third connection
	// cannot have been accepted.
	select {
	case err := <-answered:
		t.Fatalf("third connection served while 2 of 2 were open: %v", err)
	default:
	}
	held[0].Close()
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("third connection after a slot freed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("third connection not served after a slot freed")
	}
}

// A header-heavy webhook's X-Hookq-Meta stays within 8 KiB: valid JSON
// without the headers and with headersOmitted; lease envelopes and the
// message detail keep every header. A small meta is unchanged.
func TestMetaHeaderOmitsHeadersOverEightKiB(t *testing.T) {
	e := newEnv(t)
	e.queue("big")
	var hs []broker.Header
	for i := 0; i < 60; i++ { // ~60 KiB of headers, some escaped in JSON
		hs = append(hs, broker.Header{Name: fmt.Sprintf("X-Big-%02d", i), Value: []byte(strings.Repeat("é", 500))})
	}
	enqueue := func(headers []broker.Header) string {
		res, err := e.b.Enqueue(context.Background(), broker.EnqueueRequest{
			Source: "test", Queues: []string{"big"}, Body: []byte("x"), ContentType: []byte("text/plain"), Headers: headers,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.MessageID
	}
	bigID := enqueue(hs)
	smallID := enqueue([]broker.Header{{Name: "X-Small", Value: []byte("é")}})

	resp, _, _ := e.consNext("big", "?wait=5s", adminToken)
	raw := resp.Header.Get("X-Hookq-Meta")
	if resp.StatusCode != http.StatusOK || len(raw) > api.MaxMetaHeaderBytes {
		t.Fatalf("next: %d, X-Hookq-Meta of %d bytes (max %d)", resp.StatusCode, len(raw), api.MaxMetaHeaderBytes)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("X-Hookq-Meta is not JSON: %v", err)
	}
	if _, has := m["headers"]; has || m["headersOmitted"] != true || m["messageId"] != bigID || m["ackUrl"] == nil {
		t.Fatalf("X-Hookq-Meta of the header-heavy message: %s", raw)
	}

	resp, _, _ = e.consNext("big", "?wait=5s", adminToken)
	raw = resp.Header.Get("X-Hookq-Meta")
	m = nil
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m["messageId"] != smallID {
		t.Fatalf("second next: %v %s", err, raw)
	}
	if _, has := m["headersOmitted"]; has || m["headers"].(map[string]any)["X-Small"] != "é" {
		t.Fatalf("X-Hookq-Meta of a small message changed: %s", raw)
	}

	// The envelopes and the message detail keep every header (the two
	// messages above are leased, so each new one is the only one ready).
	leasedID := enqueue(hs)
	envs := e.consLease("big", "", map[string]any{"max": 1, "wait": "5s"})
	if len(envs) != 1 || envs[0].Meta.MessageID != leasedID || len(envs[0].Meta.Headers) != len(hs) || envs[0].Meta.Headers["X-Big-07"] != strings.Repeat("é", 500) {
		t.Fatalf("lease envelope lost headers: %+v", envs)
	}
	var detail struct {
		Headers map[string]string `json:"headers"`
	}
	if r, body := e.do("GET", "/v1/queues/big/messages/"+bigID, adminToken, nil); r.StatusCode != http.StatusOK || json.Unmarshal(body, &detail) != nil || len(detail.Headers) != len(hs) {
		t.Fatalf("message detail: %d, %d headers", r.StatusCode, len(detail.Headers))
	}
	st := e.openStream("big", "")
	streamedID := enqueue(hs)
	if env := st.message(10 * time.Second); env.Meta.MessageID != streamedID || len(env.Meta.Headers) != len(hs) {
		t.Fatalf("stream envelope of %s has %d of %d headers", env.Meta.MessageID, len(env.Meta.Headers), len(hs))
	}
}
