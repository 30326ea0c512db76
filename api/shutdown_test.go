package api_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
)

// waitForGoroutine polls the goroutine dump until one is running fn (a
// handler has picked the request up), or fails after timeout.
func waitForGoroutine(t *testing.T, fn string, timeout time.Duration) {
	t.Helper()
	buf := make([]byte, 8<<20)
	deadline := time.Now().Add(timeout)
	for {
		n := runtime.Stack(buf, true)
		if bytes.Contains(buf[:n], []byte(fn)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine in %s within %v", fn, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShutdownFinishesLongPollsEndsStreamsAndRefusesNewConnections runs
// the Server through Serve, as cmd/hookq does.
func TestShutdownFinishesLongPollsEndsStreamsAndRefusesNewConnections(t *testing.T) {
	b := brokertest.MustOpen(t)
	if _, err := b.PutQueue(context.Background(), "q", broker.DefaultQueueConfig("q")); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	srv := api.New(api.Config{HTTPAddr: addr, AdminToken: adminToken}, b)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	base := "http://" + addr
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	get := func(ctx context.Context, path string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		return client.Do(req)
	}

	// An open SSE stream.
	streamCtx, cancelStream := context.WithCancel(context.Background())
	defer cancelStream()
	stream, err := get(streamCtx, "/v1/queues/q/stream")
	if err != nil || stream.StatusCode != http.StatusOK {
		t.Fatalf("stream: %v %v", err, stream)
	}
	streamEnded := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, stream.Body)
		stream.Body.Close()
		streamEnded <- err
	}()

	// A long poll, in its handler before Shutdown starts.
	type result struct {
		status  int
		err     error
		elapsed time.Duration
	}
	polled := make(chan result, 1)
	start := time.Now()
	go func() {
		resp, err := get(context.Background(), "/v1/queues/q/next?wait=5s")
		r := result{err: err, elapsed: time.Since(start)}
		if err == nil {
			_, r.err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			r.status = resp.StatusCode
		}
		polled <- r
	}()
	waitForGoroutine(t, "github.com/hookq/hookq/api.(*Server).handleNext(", 5*time.Second)

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()

	select {
	case err := <-streamEnded:
		if err != nil {
			t.Fatalf("stream ended with %v, want a clean end", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not end the open stream")
	}
	// New connections are refused while the long poll is still running.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("new connections still accepted during Shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case r := <-polled:
		t.Fatalf("the long poll ended before its wait: %+v", r)
	default:
	}

	select {
	case r := <-polled:
		if r.err != nil || (r.status != http.StatusNoContent && r.status != http.StatusOK) {
			t.Fatalf("in-flight long poll: status %d err %v", r.status, r.err)
		}
		if r.status == http.StatusNoContent && r.elapsed < 5*time.Second {
			t.Fatalf("204 after %v, before its wait of 5s", r.elapsed)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the in-flight long poll never completed")
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := get(context.Background(), "/healthz"); err == nil {
		t.Fatal("a request after Shutdown succeeded")
	}
	// A stream opened after Shutdown through another listener is refused.
	rec := &recorder{header: http.Header{}}
	req, _ := http.NewRequest("GET", "/v1/queues/q/stream", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	srv.ServeHTTP(rec, req)
	if rec.status != http.StatusServiceUnavailable || errorCode(t, rec.body.Bytes()) != "unavailable" {
		t.Fatalf("stream after Shutdown: %d %s", rec.status, rec.body.Bytes())
	}
}

// recorder is a minimal ResponseWriter for calling the handler directly.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int)   { r.status = s }
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func TestShutdownBeforeServeMakesServeReturn(t *testing.T) {
	b := brokertest.MustOpen(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	srv := api.New(api.Config{HTTPAddr: l.Addr().String()}, b)
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve after Shutdown did not return")
	}
}
