package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/bench"
	"github.com/hookq/hookq/broker/brokertest"
)

const benchAdmin = "bench-admin"

// benchNode is a real single-voter node behind the real HTTP API, in
// this process.
func benchNode(t *testing.T) string {
	t.Helper()
	b := brokertest.MustOpen(t)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = api.New(api.Config{HTTPAddr: srv.Listener.Addr().String(), AdminToken: benchAdmin}, b)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// runBenchOK runs `hookq bench <args>` and returns its --json report.
func runBenchOK(t *testing.T, args ...string) (*bench.Report, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	args = append(args, "--quiet", "--json", path)
	if err := Run(context.Background(), append([]string{"bench"}, args...), &stdout, &stderr); err != nil {
		t.Fatalf("hookq bench %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	r, err := bench.ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	return r, stdout.String()
}

func phaseOf(t *testing.T, r *bench.Report, name string) *bench.PhaseReport {
	t.Helper()
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("report has no %s phase", name)
	return nil
}

func opCount(p *bench.PhaseReport, op string) int64 {
	for _, l := range p.Latency {
		if l.Op == op {
			return l.Count
		}
	}
	return -1
}

// checkIngest checks one ingest phase's counts add up and returns how many
// messages it reports as sent (accepted with 202), warmup included.
func checkIngest(t *testing.T, p *bench.PhaseReport) int64 {
	t.Helper()
	if p.Errors != 0 || p.WarmupErrors != 0 {
		t.Fatalf("ingest errors %d (+%d warmup, %v)", p.Errors, p.WarmupErrors, p.ErrorKinds)
	}
	// Open loop: every send due before the end was either made (and
	// answered) or reported as unsent.
	if p.Settings.Rate > 0 && p.Total()+p.Unsent != p.Planned {
		t.Fatalf("open loop: %d sent + %d unsent, but %d planned", p.Total(), p.Unsent, p.Planned)
	}
	if p.Messages == 0 || p.Seconds <= 0 {
		t.Fatalf("ingest measured nothing: %+v", p)
	}
	if got := opCount(p, "post"); got != p.Messages {
		t.Fatalf("post latency samples %d, measured messages %d", got, p.Messages)
	}
	if want := float64(int64(float64(p.Messages)/p.Seconds*10+0.5)) / 10; p.MsgsPerS != want {
		t.Fatalf("msgs/s %v, want messages/seconds = %v", p.MsgsPerS, want)
	}
	return p.Total()
}

// checkDrained checks that the queue holds exactly sent messages, every
// one delivered once and acked.
func checkDrained(t *testing.T, url, token string, sent int64) {
	t.Helper()
	st, err := bench.GetQueueStats(context.Background(), bench.Target{URL: url, Token: token, Queue: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	want := bench.QueueStats{Enqueued: sent, Delivered: sent, Acked: sent}
	if st != want {
		t.Fatalf("queue stats %+v, want %+v", st, want)
	}
}

// bench ingest then bench consume against one node: every message ingest
// reports as sent is consumed, once, and each report's counts agree.
func TestBenchIngestThenConsumeSettlesEverySentMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load for a few seconds")
	}
	for _, tc := range []struct {
		name    string
		ingest  []string
		consume []string
	}{
		{"closed loop, rest consumers",
			[]string{"--provider", "standard", "--concurrency", "4"},
			[]string{"--mode", "rest", "--batch", "50", "--concurrency", "2"}},
		{"open loop, sse consumers",
			[]string{"--provider", "github", "--concurrency", "8", "--rate", "300"},
			[]string{"--mode", "sse", "--batch", "20", "--max-in-flight", "32", "--concurrency", "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := benchNode(t)
			common := []string{"--url", url, "--token", benchAdmin}
			r, table := runBenchOK(t, append(append([]string{"ingest", "--setup", "--size", "512", "--duration", "1s", "--warmup", "200ms"}, common...), tc.ingest...)...)
			sent := checkIngest(t, phaseOf(t, r, "ingest"))
			if !strings.Contains(table, "p99.9") || !strings.Contains(table, strconv.FormatInt(r.Phases[0].Messages, 10)) {
				t.Fatalf("final table:\n%s", table)
			}

			r, _ = runBenchOK(t, append(append([]string{"consume", "--count", strconv.FormatInt(sent, 10), "--duration", "60s"}, common...), tc.consume...)...)
			c := phaseOf(t, r, "consume")
			if c.Total() != sent || c.Errors != 0 || c.WarmupErrors != 0 || c.Capped || c.Redelivered != 0 {
				t.Fatalf("consumed %d of %d sent; errors %d (+%d warmup, %v), capped %v, redelivered %d",
					c.Total(), sent, c.Errors, c.WarmupErrors, c.ErrorKinds, c.Capped, c.Redelivered)
			}
			if n := opCount(c, "settle"); n < 1 || n > c.Total() {
				t.Fatalf("%d settle calls for %d messages", n, c.Total())
			}
			checkDrained(t, url, benchAdmin, sent)
		})
	}
	// --mode grpc: Consume streams with credits, acked with the Settle RPC,
	// against a node that serves the public gRPC API too.
	t.Run("closed loop, grpc consumers", func(t *testing.T) {
		n := apitest.Start(t)
		common := []string{"--url", n.HTTPURL, "--token", n.AdminToken}
		r, _ := runBenchOK(t, append([]string{"ingest", "--setup", "--size", "512", "--duration", "1s", "--warmup", "200ms",
			"--provider", "standard", "--concurrency", "4"}, common...)...)
		sent := checkIngest(t, phaseOf(t, r, "ingest"))
		r, _ = runBenchOK(t, append([]string{"consume", "--count", strconv.FormatInt(sent, 10), "--duration", "60s",
			"--mode", "grpc", "--grpc-addr", n.GRPCAddr, "--batch", "20", "--max-in-flight", "32", "--concurrency", "2"}, common...)...)
		c := phaseOf(t, r, "consume")
		if c.Total() != sent || c.Errors != 0 || c.WarmupErrors != 0 || c.Capped || c.Redelivered != 0 {
			t.Fatalf("consumed %d of %d sent; errors %d (+%d warmup, %v), capped %v, redelivered %d",
				c.Total(), sent, c.Errors, c.WarmupErrors, c.ErrorKinds, c.Capped, c.Redelivered)
		}
		if n := opCount(c, "settle"); n < 1 || n > c.Total() {
			t.Fatalf("%d settle calls for %d messages", n, c.Total())
		}
		checkDrained(t, n.HTTPURL, n.AdminToken, sent)
	})
	t.Run("e2e", func(t *testing.T) {
		url := benchNode(t)
		r, _ := runBenchOK(t, "e2e", "--setup", "--url", url, "--token", benchAdmin, "--provider", "stripe",
			"--concurrency", "4", "--consumers", "2", "--size", "256", "--duration", "1s", "--warmup", "200ms")
		sent := checkIngest(t, phaseOf(t, r, "ingest"))
		c := phaseOf(t, r, "consume")
		if c.Total() != sent || c.Errors != 0 || c.Capped {
			t.Fatalf("consumed %d of %d sent; errors %d, capped %v", c.Total(), sent, c.Errors, c.Capped)
		}
		// Every measured message was received once, with its send time.
		if n := opCount(c, "end-to-end"); n != phaseOf(t, r, "ingest").Messages {
			t.Fatalf("end-to-end samples %d, measured messages sent %d", n, phaseOf(t, r, "ingest").Messages)
		}
		checkDrained(t, url, benchAdmin, sent)
	})
}
