package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/ingest"
)

// The third-party Python consumers in ../shared/reference-consumers must
// work against a real hookq: sse_stream.py unchanged, rest_poll.py with
// only its meta header name changed (see that directory's README).

const refMessages = 20

// refConsumersDir finds ../shared/reference-consumers next to the module
// root, and python3 with requests; it skips when something is missing,
// except under CI=true, where it fails.
func refConsumersDir(t *testing.T) (dir, python string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and "+format, args...)
		}
		t.Skipf("skipping the reference-consumer test: "+format, args...)
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			missing("no go.mod above %s", ".")
		}
		root = parent
	}
	dir = filepath.Join(filepath.Dir(root), "shared", "reference-consumers")
	for _, f := range []string{"sse_stream.py", "rest_poll.py"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			missing("%s not found: %v", f, err)
		}
	}
	python, err = exec.LookPath("python3")
	if err != nil {
		missing("python3 not on PATH: %v", err)
	}
	if out, err := exec.Command(python, "-c", "import requests").CombinedOutput(); err != nil {
		missing("python3 cannot import requests: %v: %s", err, out)
	}
	return dir, python
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var refEventLine = regexp.MustCompile(`(?m)^event: ([0-9a-f]{16})$`)

func TestReferenceConsumers(t *testing.T) {
	dir, python := refConsumersDir(t)
	restSrc, err := os.ReadFile(filepath.Join(dir, "rest_poll.py"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(restSrc), "X-Hooque-Meta"); n != 1 {
		t.Fatalf("rest_poll.py names X-Hooque-Meta %d times, want exactly 1", n)
	}
	restPoll := filepath.Join(t.TempDir(), "rest_poll.py")
	patched := strings.Replace(string(restSrc), "X-Hooque-Meta", "X-Hookq-Meta", 1)
	if err := os.WriteFile(restPoll, []byte(patched), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, script, urlVar, path string
	}{
		{"sse_stream", filepath.Join(dir, "sse_stream.py"), "HOOQUE_QUEUE_STREAM_URL", "stream"},
		{"rest_poll", restPoll, "HOOQUE_QUEUE_NEXT_URL", "next"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			q := strings.ReplaceAll(tc.name, "_", "-")
			e.queue(q)
			e.source(q, ingest.SourceConfig{Queues: []string{q}, Verify: ingest.VerifyConfig{Type: "none"}})
			ids := map[string]bool{}
			for i := range refMessages {
				body := fmt.Sprintf(`{"type":"order.created","n":%d,"note":"café"}`, i)
				resp, out := e.do("POST", "/hooks/"+q, "", body, "Content-Type", "application/json")
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("ingest %d: %d %s", i, resp.StatusCode, out)
				}
				ids[refMessageID(t, out)] = true
			}
			token := e.consToken("ref-"+q, "consume:"+q)

			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			var output lockedBuffer
			cmd := exec.CommandContext(ctx, python, tc.script)
			cmd.Env = append(os.Environ(),
				tc.urlVar+"="+e.srv.URL+"/v1/queues/"+q+"/"+tc.path,
				"HOOQUE_TOKEN="+token,
				"PYTHONUNBUFFERED=1",
			)
			cmd.Stdout, cmd.Stderr = &output, &output
			cmd.WaitDelay = 5 * time.Second
			if err := cmd.Start(); err != nil {
				t.Fatalf("start %s: %v", tc.script, err)
			}
			stopped := false
			stop := func() {
				if !stopped {
					stopped = true
					_ = cmd.Process.Kill() // this process only, by its PID
					_ = cmd.Wait()
				}
			}
			defer stop()

			deadline := time.Now().Add(60 * time.Second)
			var s broker.Stats
			for {
				s = e.consStats(q)
				if s.Acked == refMessages && s.Ready == 0 && s.Inflight == 0 && s.Delayed == 0 {
					break
				}
				if time.Now().After(deadline) {
					stop()
					t.Fatalf("%s: stats %+v after 60s; output:\n%s", tc.name, s, output.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			stop()

			processed := map[string]bool{}
			for _, m := range refEventLine.FindAllStringSubmatch(output.String(), -1) {
				processed[m[1]] = true
			}
			if missing := refDiff(ids, processed); len(missing) > 0 || len(processed) != len(ids) {
				t.Fatalf("%s processed %d messages, missing %v; output:\n%s", tc.name, len(processed), missing, output.String())
			}
			for id := range ids {
				rec, _, err := e.b.Message(q, id)
				if err != nil || rec.State != broker.StateAcked {
					t.Fatalf("message %s: %v %v, want acked", id, rec.State, err)
				}
			}
			if s.DeadLettered != 0 || e.consStats(q+".dlq").Ready != 0 {
				t.Fatalf("%s dead-lettered messages: %+v", tc.name, s)
			}
			t.Logf("%s: %d messages processed and acked (delivered %d)", tc.name, len(processed), s.Delivered)
		})
	}
}

func refMessageID(t *testing.T, body []byte) string {
	t.Helper()
	m := regexp.MustCompile(`"messageId":"([0-9a-f]{16})"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no messageId in %s", body)
	}
	return string(m[1])
}

func refDiff(want, got map[string]bool) []string {
	var out []string
	for id := range want {
		if !got[id] {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}
