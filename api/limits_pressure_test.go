package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/ingest"
)

// rawGet sends a GET on c and reads the whole answer; c stays open.
func rawGet(c net.Conn, br *bufio.Reader, path, token string) (*http.Response, []byte, error) {
	req := "GET " + path + " HTTP/1.1\r\nHost: x\r\n"
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// With every slot held, most by idle keep-alive connections, new clients
// are served promptly (idle connections are closed to make room), while
// the long-polls holding the other slots are left open and still get
// their messages.
func TestMaxConnsClosesIdleConnectionsForNewClients(t *testing.T) {
	const maxConns, polls = 8, 2
	e := newLimitEnv(t, api.Config{MaxConns: maxConns})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	e.queue("lp")
	// The queue above went through http.DefaultClient's pool: drop that
	// connection so the test's own connections are all there is.
	http.DefaultClient.CloseIdleConnections()

	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	type result struct {
		status int
		body   string
		err    error
	}
	pollDone := make(chan result, polls)
	for i := 0; i < polls; i++ {
		c := dial()
		go func() {
			c.SetReadDeadline(time.Now().Add(40 * time.Second))
			resp, body, err := rawGet(c, bufio.NewReader(c), "/v1/queues/lp/next?wait=25s", adminToken)
			if err != nil {
				pollDone <- result{err: err}
				return
			}
			pollDone <- result{status: resp.StatusCode, body: string(body)}
		}()
	}
	var idle []net.Conn
	for i := 0; i < maxConns-polls; i++ {
		c := dial()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if resp, _, err := rawGet(c, bufio.NewReader(c), "/healthz", ""); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("idle connection %d: %v %v", i, resp, err)
		}
		idle = append(idle, c) // now idle on keep-alive
	}

	// More new clients than there are idle slots: each one's connection
	// goes idle after its answer and makes room for the next.
	for i := 0; i < 2*maxConns; i++ {
		c := dial()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, _, err := rawGet(c, bufio.NewReader(c), "/readyz", "")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("new client %d with %d slots held: %v %v (not served within 5s)", i, maxConns, resp, err)
		}
	}
	// The first idle connections were closed by the server.
	idle[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := idle[0].Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("longest-idle connection: read %d, %v; want EOF (closed to make room)", n, err)
	}

	// The long-polls were not cut: still waiting, and they get messages.
	select {
	case r := <-pollDone:
		t.Fatalf("a long-poll ended before any message: %+v", r)
	default:
	}
	for i := 0; i < polls; i++ {
		e.consPut("lp", fmt.Sprintf("m%d", i), "text/plain")
	}
	for i := 0; i < polls; i++ {
		select {
		case r := <-pollDone:
			if r.err != nil || r.status != http.StatusOK || !strings.HasPrefix(r.body, "m") {
				t.Fatalf("long-poll %d = %+v, want a message", i, r)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("long-poll %d got no message", i)
		}
	}
}

// A webhook body that would take the node over its body budget is
// answered 503 unavailable with Retry-After, and nothing is stored; once
// the held body is done, the same webhook is accepted.
func TestBodyBudgetRefusesBodiesOverIt(t *testing.T) {
	const budget, size = 100_000, 80_000
	e := newLimitEnv(t, api.Config{BodyBudget: budget, BodyReadTimeout: 20 * time.Second})
	e.hookPipe("orders", ingest.SourceConfig{Verify: ingest.VerifyConfig{Type: "none"}})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	full := strings.Repeat("x", size)

	first := stalledRequest(t, addr, fmt.Sprintf("POST /hooks/orders HTTP/1.1\r\nHost: x\r\nContent-Length: %d", size), full[:10])
	deadline := time.Now().Add(10 * time.Second)
	for api.BodyBytesHeld(e.api) < size {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled body holds %d bytes of the budget, want %d", api.BodyBytesHeld(e.api), size)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// With a Content-Length: refused before it is read.
	resp, body := e.hookPost("orders", "", []byte(full), nil)
	expectError(t, resp, body, http.StatusServiceUnavailable, "unavailable")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	// Chunked (no length): refused once its bytes would go over.
	req, _ := http.NewRequest("POST", e.srv.URL+"/hooks/orders", io.MultiReader(strings.NewReader(full)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	expectError(t, resp, body, http.StatusServiceUnavailable, "unavailable")
	if n := e.hookEnqueued("orders"); n != 0 {
		t.Fatalf("enqueued %d, want 0 while the budget is taken", n)
	}

	// The first body completes: accepted, and its bytes are released.
	if _, err := io.WriteString(first, full[10:]); err != nil {
		t.Fatal(err)
	}
	resp, body = readAnswer(t, first)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first webhook: %d %s, want 202", resp.StatusCode, body)
	}
	deadline = time.Now().Add(10 * time.Second)
	for api.BodyBytesHeld(e.api) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still held after the first webhook ended", api.BodyBytesHeld(e.api))
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.hookOK("orders", []byte(full), nil, false)
	if n := e.hookEnqueued("orders"); n != 2 {
		t.Fatalf("enqueued %d, want 2", n)
	}
}

// readAnswer reads one response on c.
func readAnswer(t testing.TB, c net.Conn) (*http.Response, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}
