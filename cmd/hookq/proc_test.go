package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookq/hookq/broker/brokertest"
)

// binary is the hookq binary built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hookq-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "hookq")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building hookq: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t testing.TB) string { return brokertest.FreeAddr(t) }

// proc is one hookq process we started (and only we end, by PID).
type proc struct {
	t      testing.TB
	id     string
	args   []string
	dir    string
	http   string
	raft   string
	grpc   string
	runMu  sync.Mutex // guards cmd and exited: a load goroutine asks alive() while the test restarts the node
	cmd    *exec.Cmd
	exited chan struct{}
	logMu  sync.Mutex
	logs   bytes.Buffer
}

const testAdmin = "proc-admin"

func newProc(t testing.TB, id string, extra ...string) *proc {
	t.Helper()
	p := &proc{t: t, id: id, dir: t.TempDir(), http: freePort(t), raft: freePort(t), grpc: freePort(t)}
	p.args = append([]string{"serve", "--node-id", id, "--data-dir", p.dir, "--http-addr", p.http,
		"--raft-addr", p.raft, "--grpc-addr", p.grpc, "--admin-token", testAdmin, "--log-level", "warn"}, extra...)
	return p
}

func (p *proc) start() {
	p.t.Helper()
	cmd := exec.Command(binary, p.args...)
	w := &lockedWriter{mu: &p.logMu, w: &p.logs}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.id, err)
	}
	exited := make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) {
		c.Wait()
		close(done)
	}(cmd, exited)
	p.runMu.Lock()
	p.cmd, p.exited = cmd, exited
	p.runMu.Unlock()
	p.t.Cleanup(p.kill)
}

// running is the current process and its exit channel.
func (p *proc) running() (*exec.Cmd, chan struct{}) {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	return p.cmd, p.exited
}

// kill sends SIGKILL to our own process and waits for it.
func (p *proc) kill() {
	cmd, exited := p.running()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

func (p *proc) alive() bool {
	cmd, exited := p.running()
	if cmd == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

func (p *proc) url(path string) string { return "http://" + p.http + path }

func (p *proc) log() string {
	p.logMu.Lock()
	defer p.logMu.Unlock()
	return p.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

var client = &http.Client{Timeout: 15 * time.Second}

// call does one HTTP request with the admin token; body may be nil.
func call(method, url string, body any, hdr ...string) (int, []byte, http.Header, error) {
	return callWith(client, method, url, body, hdr...)
}

// waitReady polls /readyz until 200.
func (p *proc) waitReady(timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if code, _, _, err := call("GET", p.url("/readyz"), nil); err == nil && code == 200 {
			return
		}
		if !p.alive() {
			p.t.Fatalf("%s exited:\n%s", p.id, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s not ready within %v:\n%s", p.id, timeout, p.log())
}

// mustCall fails the test unless the request answers want.
func mustCall(t testing.TB, want int, method, url string, body any) []byte {
	t.Helper()
	code, out, _, err := call(method, url, body)
	if err != nil || code != want {
		t.Fatalf("%s %s = %d %v %s, want %d", method, url, code, err, out, want)
	}
	return out
}

// setupQueue creates queue q and a source q (verify none, dedup on the
// X-Event-Id header) through node p.
func setupQueue(t testing.TB, p *proc, q string) {
	t.Helper()
	code, out, _, err := call("PUT", p.url("/v1/queues/"+q), map[string]any{"visibilityTimeout": "30s"})
	if err != nil || (code != 201 && code != 200) {
		t.Fatalf("put queue: %d %v %s", code, err, out)
	}
	code, out, _, err = call("PUT", p.url("/v1/sources/"+q), map[string]any{
		"queues": []string{q}, "verify": map[string]any{"type": "none"}, "dedup": map[string]any{"key": "header:X-Event-Id"},
	})
	if err != nil || (code != 201 && code != 200) {
		t.Fatalf("put source: %d %v %s", code, err, out)
	}
}

// drain leases and acks everything in q through node p and returns the
// messageIds seen and how often each event id was delivered.
func drain(t testing.TB, p *proc, q string) (ids map[string]bool, events map[string]int) {
	t.Helper()
	ids, events = map[string]bool{}, map[string]int{}
	for empty := 0; empty < 2; {
		code, out, _, err := call("POST", p.url("/v1/queues/"+q+"/lease"), map[string]any{"max": 200, "wait": "1s", "autoAck": true})
		if err != nil || code != 200 {
			t.Fatalf("lease: %d %v %s", code, err, out)
		}
		var res struct {
			Messages []struct {
				Meta struct {
					MessageID string            `json:"messageId"`
					Headers   map[string]string `json:"headers"`
				} `json:"meta"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("lease body: %v", err)
		}
		if len(res.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range res.Messages {
			ids[m.Meta.MessageID] = true
			events[m.Meta.Headers["X-Event-Id"]]++
		}
	}
	return ids, events
}
