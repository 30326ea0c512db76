package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The example consumers reject a JSON message whose body is not JSON
// (to the dead-letter queue, where retrying cannot help), ack the good
// one, and stop cleanly on SIGTERM.
func TestExampleConsumersRejectInvalidJSONAndStopOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs processes")
	}
	p := newProc(t, "n1")
	p.start()
	p.waitReady(30 * time.Second)
	dir := t.TempDir()
	for _, ex := range []string{"rest-poller", "sse-consumer"} {
		t.Run(ex, func(t *testing.T) {
			bin := filepath.Join(dir, ex)
			if out, err := exec.Command("go", "build", "-o", bin, "../../examples/"+ex).CombinedOutput(); err != nil {
				t.Fatalf("build %s: %v\n%s", ex, err, out)
			}
			q := "ex-" + ex
			setupQueue(t, p, q)
			for _, body := range []string{`{"broken":`, `{"ok":true}`} {
				code, out, _, err := call("POST", p.url("/hooks/"+q), body, "Content-Type", "application/json")
				if err != nil || code != 202 {
					t.Fatalf("post %s: %d %v %s", body, code, err, out)
				}
			}
			cmd := exec.Command(bin, "-url", "http://"+p.http, "-token", testAdmin, "-queue", q) // #nosec G204 -- built above
			var logs bytes.Buffer
			var logMu sync.Mutex
			w := &lockedWriter{mu: &logMu, w: &logs}
			cmd.Stdout, cmd.Stderr = w, w
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var waitErr error
			exited := make(chan struct{})
			go func() { waitErr = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				select {
				case <-exited:
				default:
					_ = cmd.Process.Kill()
					<-exited
				}
			})

			// Wait until the good message is acked and the bad one dead-lettered.
			deadline := time.Now().Add(20 * time.Second)
			for {
				acked := queueStat(t, p, q, "acked")
				dead := queueStat(t, p, q+".dlq", "ready")
				if acked == 1 && dead == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("acked %d, dead-lettered %d; want 1 and 1\n%s", acked, dead, logText(&logMu, &logs))
				}
				time.Sleep(50 * time.Millisecond)
			}
			if n := queueStat(t, p, q, "delayed") + queueStat(t, p, q, "ready"); n != 0 {
				t.Fatalf("%d messages nacked back into %s; the invalid one should have been rejected", n, q)
			}
			out := mustCall(t, 200, "GET", p.url("/v1/queues/"+q+".dlq/messages"), nil)
			var list struct {
				Messages []struct {
					DeadLetter struct {
						Reason string `json:"reason"`
					} `json:"deadLetter"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(out, &list); err != nil || len(list.Messages) != 1 || !strings.Contains(list.Messages[0].DeadLetter.Reason, "invalid JSON") {
				t.Fatalf("dlq listing %s (%v)", out, err)
			}

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
				if waitErr != nil {
					t.Fatalf("%s after SIGTERM: %v\n%s", ex, waitErr, logText(&logMu, &logs))
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s did not stop on SIGTERM\n%s", ex, logText(&logMu, &logs))
			}
		})
	}
}

// queueStat is one stats field of queue q on node p.
func queueStat(t testing.TB, p *proc, q, field string) int64 {
	t.Helper()
	out := mustCall(t, 200, "GET", p.url("/v1/queues/"+q), nil)
	var v struct {
		Stats map[string]float64 `json:"stats"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("queue %s: %v", q, err)
	}
	return int64(v.Stats[field])
}

func logText(mu *sync.Mutex, b *bytes.Buffer) string {
	mu.Lock()
	defer mu.Unlock()
	return b.String()
}
