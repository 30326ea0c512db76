package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
)

// Node keys of the test servers in this file, distinct from adminToken.
const (
	testClusterKey = "test-cluster-key-0123"
	testIngestKey  = "test-ingest-key-4567"
)

// newKeyedEnv is newEnv with a cluster key and an ingest key that differ
// from the admin token.
func newKeyedEnv(t testing.TB) *env {
	t.Helper()
	return serveEnv(t, brokertest.MustOpen(t))
}

// serveEnv serves b's HTTP API with the admin token and both node keys.
func serveEnv(t testing.TB, b *broker.Broker) *env {
	t.Helper()
	e := &env{t: t, b: b}
	e.srv = httptest.NewUnstartedServer(nil)
	e.api = api.New(api.Config{
		HTTPAddr: e.srv.Listener.Addr().String(), AdminToken: adminToken,
		ClusterKey: testClusterKey, IngestKey: testIngestKey,
	}, b)
	e.srv.Config.Handler = e.api
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// The cluster key and the ingest key are not tokens of the API: as
// bearers they answer 401 everywhere except the routes nodes use.
func TestNodeKeysAreNotAPITokens(t *testing.T) {
	e := newKeyedEnv(t)
	e.queue("orders")
	routes := []struct{ method, path string }{
		{"GET", "/v1/tokens"},
		{"POST", "/v1/tokens"},
		{"DELETE", "/v1/tokens/x"},
		{"GET", "/v1/queues"},
		{"PUT", "/v1/queues/q2"},
		{"GET", "/v1/queues/orders"},
		{"DELETE", "/v1/queues/orders"},
		{"GET", "/v1/queues/orders/next"},
		{"POST", "/v1/queues/orders/lease"},
		{"GET", "/v1/queues/orders/messages"},
		{"POST", "/v1/queues/orders/purge"},
		{"GET", "/v1/sources"},
		{"PUT", "/v1/sources/s"},
		{"GET", "/v1/sources/s"},
		{"DELETE", "/v1/cluster/nodes/n9"},
		{"POST", "/v1/cluster/transfer-leadership"},
	}
	body := map[string]any{"name": "evil", "scopes": []string{"admin"}}
	for _, key := range []string{testClusterKey, testIngestKey} {
		for _, rt := range routes {
			resp, out := e.do(rt.method, rt.path, key, body)
			if resp.StatusCode != http.StatusUnauthorized || errorCode(t, out) != "unauthenticated" {
				t.Errorf("%s %s with a node key = %d %s, want 401 unauthenticated", rt.method, rt.path, resp.StatusCode, out)
			}
		}
	}
	// The ingest key does not join nodes either.
	resp, out := e.do("POST", "/v1/cluster/join", testIngestKey, map[string]string{})
	expectError(t, resp, out, http.StatusUnauthorized, "unauthenticated")
	// Nothing was minted through them.
	for _, tk := range e.admTokens() {
		if tk.Name == "evil" {
			t.Fatal("a node key minted a token")
		}
	}
	// The admin token is still the admin token.
	e.admCall("GET", "/v1/tokens", adminToken, nil, http.StatusOK, nil)
	e.admCall("GET", "/v1/queues", adminToken, nil, http.StatusOK, nil)
}

// The cluster key opens POST /v1/cluster/join and GET /v1/cluster; the
// ingest key opens GET /v1/cluster (leader discovery).
func TestNodeKeysOpenTheirRoutes(t *testing.T) {
	e := newKeyedEnv(t)
	for _, key := range []string{testClusterKey, testIngestKey} {
		resp, out := e.do("GET", "/v1/cluster", key, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"leader"`) {
			t.Fatalf("GET /v1/cluster with a node key = %d %s", resp.StatusCode, out)
		}
	}
	// Authenticated (then refused as a bad body: adding a voter that does
	// not exist would cost this one-node cluster its quorum).
	resp, out := e.do("POST", "/v1/cluster/join", testClusterKey, map[string]string{"id": "n9"})
	expectError(t, resp, out, http.StatusBadRequest, "bad_request")
	resp, out = e.do("POST", "/v1/cluster/join", "", map[string]string{"id": "n9"})
	expectError(t, resp, out, http.StatusUnauthorized, "unauthenticated")
	// A stored token without admin is forbidden there, as before.
	tok := e.admToken("reader", "read:*")
	resp, out = e.do("GET", "/v1/cluster", tok, nil)
	expectError(t, resp, out, http.StatusForbidden, "forbidden")
}

// Source secrets are write-only: no HTTP answer carries them.
func TestSourceSecretsNeverReturned(t *testing.T) {
	e := newKeyedEnv(t)
	e.queue("orders")
	const secret = "whsec_dGhpcyBpcyBhIHNlY3JldCBrZXkgdmFsdWU="
	body := map[string]any{"queues": []string{"orders"}, "verify": map[string]any{"type": "standard", "secrets": []string{secret}}}
	var outs [][]byte
	outs = append(outs, e.admCall("PUT", "/v1/sources/s", adminToken, body, http.StatusCreated, nil))
	outs = append(outs, e.admCall("PUT", "/v1/sources/s", adminToken, body, http.StatusOK, nil))
	outs = append(outs, e.admCall("GET", "/v1/sources", adminToken, nil, http.StatusOK, nil))
	outs = append(outs, e.admCall("GET", "/v1/sources/s", adminToken, nil, http.StatusOK, nil))
	for _, key := range []string{testClusterKey, testIngestKey} {
		_, out := e.do("GET", "/v1/cluster", key, nil)
		outs = append(outs, out)
		_, out = e.do("GET", "/v1/sources/s", key, nil)
		outs = append(outs, out)
	}
	for _, out := range outs {
		if strings.Contains(string(out), secret) || strings.Contains(string(out), "dGhpcyBpcyBhIHNlY3JldCBrZXkgdmFsdWU") {
			t.Fatalf("a response carries the source secret: %s", out)
		}
	}
	var src struct {
		Verify struct {
			SecretCount int `json:"secretCount"`
		} `json:"verify"`
	}
	if err := json.Unmarshal(outs[3], &src); err != nil || src.Verify.SecretCount != 1 {
		t.Fatalf("GET /v1/sources/s: %v %s", err, outs[3])
	}
}

// openTokenStream opens q's SSE stream on the server at base with token.
func openTokenStream(t testing.TB, base, q, token string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/queues/"+q+"/stream", nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	c := &sseClient{t: t, frames: make(chan sseFrame, 256), cancel: cancel, tr: &http.Transport{}}
	c.resp, err = (&http.Client{Transport: c.tr}).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("open stream: %v", err)
	}
	t.Cleanup(c.close)
	if c.resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d", c.resp.StatusCode)
	}
	go c.read(ctx)
	return c
}

// revocationBound is how soon a stream must end once its token is gone
// (issue 9: ≤ 2 s).
const revocationBound = 2 * time.Second

// expectRevoked waits, up to the bound from since, for the stream to send
// event error (unauthenticated) and close; messages and keep-alives that
// come first are skipped.
func expectRevoked(t testing.TB, c *sseClient, since time.Time) {
	t.Helper()
	deadline := since.Add(revocationBound)
	sawError := false
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				if !sawError {
					t.Fatal("stream closed without an error event")
				}
				t.Logf("stream ended %v after the token was deleted", time.Since(since).Round(time.Millisecond))
				return
			}
			if f.event != "error" {
				continue
			}
			var eb struct {
				Error struct{ Code string } `json:"error"`
			}
			if err := json.Unmarshal([]byte(f.data), &eb); err != nil || eb.Error.Code != "unauthenticated" {
				t.Fatalf("error frame %q, want code unauthenticated", f.data)
			}
			sawError = true
		case <-time.After(time.Until(deadline)):
			t.Fatalf("stream still open %v after its token was deleted (error event seen: %v)", revocationBound, sawError)
		}
	}
}

// Deleting a token ends the SSE streams opened with it; streams of other
// tokens go on.
func TestDeletedTokenEndsItsStream(t *testing.T) {
	e := newKeyedEnv(t)
	e.queue("orders")
	tok := e.admToken("worker", "consume:orders")
	other := e.admToken("other", "consume:*")
	c := openTokenStream(t, e.srv.URL, "orders", tok)
	keep := openTokenStream(t, e.srv.URL, "orders", other)

	e.admEnqueue("orders", `{"n":1}`)

	e.admCall("DELETE", "/v1/tokens/worker", adminToken, nil, http.StatusNoContent, nil)
	expectRevoked(t, c, time.Now())

	// The other token's stream still serves.
	e.admEnqueue("orders", `{"n":2}`)
	e.admEnqueue("orders", `{"n":3}`)
	keep.message(10 * time.Second)
	// And the deleted token opens nothing any more.
	resp, out := e.do("GET", "/v1/queues/orders/stream", tok, nil)
	expectError(t, resp, out, http.StatusUnauthorized, "unauthenticated")
}

// A token deleted through another node ends the streams opened with it on
// this one: the token table is replicated, and each node re-checks its
// streams against its own copy.
func TestTokenDeletedOnAnotherNodeEndsStream(t *testing.T) {
	if testing.Short() {
		t.Skip("three-node cluster")
	}
	nodes := brokertest.StartCluster(t, 3, nil)
	leader := brokertest.WaitClusterLeader(t, nodes, 15*time.Second)
	var follower *brokertest.Node
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	le, fe := serveEnv(t, leader.Broker), serveEnv(t, follower.Broker)
	le.queue("orders")
	tok := le.admToken("worker", "consume:orders")
	// The follower knows the queue and the token once it applied them.
	admEventually(t, 10*time.Second, "follower applies the token", func() bool {
		_, ok := follower.Authenticate(tok)
		_, err := follower.Queue("orders")
		return ok && err == nil
	})
	c := openTokenStream(t, fe.srv.URL, "orders", tok)

	le.admCall("DELETE", "/v1/tokens/worker", adminToken, nil, http.StatusNoContent, nil)
	expectRevoked(t, c, time.Now())
}

// An ingest-only server has no /v1 at all: no key opens anything there.
func TestIngestOnlyServesNoV1(t *testing.T) {
	b := brokertest.MustOpen(t)
	srv := httptest.NewServer(api.NewIngestOnly(api.Config{ClusterKey: testClusterKey, IngestKey: testIngestKey}, b))
	t.Cleanup(srv.Close)
	for _, key := range []string{testClusterKey, testIngestKey} {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/cluster", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("ingest-only GET /v1/cluster = %d, want 404", resp.StatusCode)
		}
	}
}
