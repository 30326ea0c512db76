package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/ingest"
	"github.com/prometheus/client_golang/prometheus"
)

// adminToken is the --admin-token of test servers.
const adminToken = "test-admin"

// env is a broker behind the real HTTP API.
type env struct {
	t   testing.TB
	b   *broker.Broker
	srv *httptest.Server
	api *api.Server
	reg *prometheus.Registry // set by newMetricsEnv
}

// newEnv starts an in-memory broker without Raft (brokertest.NewFake) and
// an httptest server whose public URL is the server's own address.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, brokertest.NewFake(t))
}

// newRaftEnv is newEnv on a real single-voter Raft node with its cluster
// side (brokertest.MustOpen): for tests of the cluster routes, leadership,
// quorum and shutdown.
func newRaftEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, brokertest.MustOpen(t))
}

func newEnvOn(t testing.TB, b *broker.Broker) *env {
	t.Helper()
	e := &env{t: t, b: b}
	e.srv = httptest.NewUnstartedServer(nil)
	addr := e.srv.Listener.Addr().String()
	e.api = api.New(api.Config{HTTPAddr: addr, AdminToken: adminToken}, b)
	e.srv.Config.Handler = e.api
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// queue creates queue name with the defaults of docs/API.md §3.1.
func (e *env) queue(name string) {
	e.t.Helper()
	if _, err := e.b.PutQueue(context.Background(), name, broker.DefaultQueueConfig(name)); err != nil {
		e.t.Fatalf("put queue %s: %v", name, err)
	}
}

// source creates a source feeding queues, verified as cfg says.
func (e *env) source(name string, cfg ingest.SourceConfig) {
	e.t.Helper()
	if err := cfg.Normalize(); err != nil {
		e.t.Fatalf("source %s: %v", name, err)
	}
	if _, err := e.b.PutSource(context.Background(), name, cfg); err != nil {
		e.t.Fatalf("put source %s: %v", name, err)
	}
}

// do sends a request with an optional bearer token and body, returning
// the response (body read and closed) and its body.
func (e *env) do(method, path, token string, body any, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	url := path
	if strings.HasPrefix(path, "/") {
		url = e.srv.URL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, out
}

// errorCode decodes the error body of docs/API.md §2.6.
func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		t.Fatalf("not an error body: %q", body)
	}
	return eb.Error.Code
}

// expectError asserts status and error code.
func expectError(t testing.TB, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	if got := errorCode(t, body); got != code {
		t.Fatalf("code = %q, want %q", got, code)
	}
	if status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After")
	}
}
