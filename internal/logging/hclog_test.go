package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func jsonLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestRaftPeerErrorsAreRateLimitedWarnings(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(FormatJSON, "info", &buf)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHCLog(log, "raft")
	now := time.Unix(1000, 0)
	h.lim.now = func() time.Time { return now }
	// 37 heartbeat failures to one peer within 12s, as a peer restarts.
	for i := range 37 {
		now = time.Unix(1000, 0).Add(time.Duration(i) * 12 * time.Second / 37)
		h.Error("failed to heartbeat to", "peer", "127.0.0.1:7002", "error", errors.New("dial tcp: connection refused"))
	}
	// Another peer's failure is its own line.
	h.Error("failed to heartbeat to", "peer", "127.0.0.1:7003", "error", errors.New("dial tcp: connection refused"))
	// A real error stays an error.
	h.Error("failed to append to logs", "error", errors.New("disk full"))
	h.Debug("not shown at info")

	lines := jsonLines(t, &buf)
	var heartbeats, errs int
	var repeated float64
	for _, l := range lines {
		switch l["msg"] {
		case "failed to heartbeat to":
			heartbeats++
			if l["level"] != "WARN" {
				t.Errorf("heartbeat failure at %v, want WARN", l["level"])
			}
			if r, ok := l["repeated"].(float64); ok {
				repeated += r
			}
		case "failed to append to logs":
			errs++
			if l["level"] != "ERROR" || l["component"] != "raft" || l["error"] != "disk full" {
				t.Errorf("append failure line %v", l)
			}
		default:
			t.Errorf("unexpected line %v", l)
		}
	}
	// First at 0s, then one at >=10s carrying the count held back, and
	// the other peer's once: 3 lines instead of 38.
	if heartbeats != 3 || errs != 1 {
		t.Fatalf("%d heartbeat lines and %d errors, want 3 and 1:\n%s", heartbeats, errs, buf.String())
	}
	if repeated == 0 {
		t.Fatalf("no line says how many repeats were held back:\n%s", buf.String())
	}
}

func TestHCLogFollowsTheSlogLevel(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(FormatText, "warn", &buf)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHCLog(log, "raft")
	if h.IsInfo() || !h.IsWarn() || h.GetLevel() != hclog.Warn {
		t.Fatalf("at warn: IsInfo %v IsWarn %v level %v", h.IsInfo(), h.IsWarn(), h.GetLevel())
	}
	h.Info("entering follower state")
	h.Named("net").Warn("slow peer", "peer", "n2")
	got := buf.String()
	if strings.Contains(got, "entering follower state") || !strings.Contains(got, "component=raft.net") || !strings.Contains(got, "slow peer") {
		t.Fatalf("log at warn:\n%s", got)
	}
}

func TestNewRefusesUnknownFormatAndLevel(t *testing.T) {
	if _, err := New("xml", "info", &bytes.Buffer{}); err == nil {
		t.Fatal("format xml accepted")
	}
	if _, err := New("json", "loud", &bytes.Buffer{}); err == nil {
		t.Fatal("level loud accepted")
	}
}
