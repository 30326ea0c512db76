package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// anchorJSON is what jetstream-bench -runs 3 -replicas 3 -json writes
// (main.go), trimmed to two phases.
const anchorJSON = `{
  "env": "2026-12-02 07:00 UTC  nproc=2", "mode": "procs", "sync_always": true, "n": 200000, "size": 1024,
  "clients": 16, "window": 256, "batch": 100, "duration": "20s", "runs": 3, "connect": "leader",
  "results": [
    {"phase": "syncN", "replicas": 3, "run": 1, "msgs": 30000, "msgs_per_s": 1500, "p50_us": 9000, "p99_us": 30000, "check": "ok"},
    {"phase": "syncN", "replicas": 3, "run": 2, "msgs": 30000, "msgs_per_s": 2000, "p50_us": 8000, "p99_us": 20000, "check": "ok"},
    {"phase": "syncN", "replicas": 3, "run": 3, "msgs": 30000, "msgs_per_s": 1000, "p50_us": 10000, "p99_us": 40000, "check": "ok"},
    {"phase": "syncN", "replicas": 1, "run": 1, "msgs": 30000, "msgs_per_s": 99999, "check": "ok"},
    {"phase": "consume", "replicas": 3, "run": 1, "msgs": 200000, "msgs_per_s": 10000, "check": ""},
    {"phase": "consume", "replicas": 3, "run": 2, "msgs": 200000, "msgs_per_s": 12000, "check": ""}
  ]
}`

func sampleReport() *Report {
	r := NewReport("cluster",
		&PhaseReport{Name: "ingest", Settings: Settings{Provider: "standard", Size: 1024, Concurrency: 64}, Messages: 30000,
			WarmupMessages: 3000, Seconds: 10, MsgsPerS: 3000,
			Latency: []LatencySummary{{Op: opPost, Count: 30000, MeanUs: 20000, P50Us: 15000, P90Us: 30000, P99Us: 80000, P999Us: 120000, MaxUs: 150000}},
			CPU: &PhaseCPU{Messages: 33000, WallSeconds: 12, NodesUsPerMsg: 700, Nodes: []NodeCPU{
				{ID: "n1", Role: "leader", UsPerMsg: 400, Cores: 0.9}, {ID: "n2", Role: "follower", UsPerMsg: 150}, {ID: "n3", Role: "follower", UsPerMsg: 150}}}},
		&PhaseReport{Name: "consume", Settings: Settings{Mode: ModeREST, Batch: 100, Concurrency: 4}, Messages: 33000, Seconds: 11, MsgsPerS: 3000,
			Latency: []LatencySummary{{Op: opLease, Count: 330}, {Op: opSettle, Count: 330}},
			CPU:     &PhaseCPU{Messages: 33000, NodesUsPerMsg: 500, Nodes: []NodeCPU{{ID: "n1", Role: "leader"}, {ID: "n2", Role: "follower"}, {ID: "n3", Role: "follower"}}}},
	)
	r.Cluster = &ClusterInfo{Leader: "n1", Via: "n1"}
	return r
}

func TestCompareMediansAndRatios(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "js.json")
	if err := os.WriteFile(path, []byte(anchorJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := ReadAnchor(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Compare(&out, sampleReport(), a, ""); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"JetStream R3, fsync always",
		"1,500 msg/s (pub sync, 16 clients)", // median of the R3 runs; R1 ignored
		"2.00×",                              // 3000 / 1500
		"9.00 / 30.00",                       // the anchor's median p50 / p99, ms
		"15.00 / 80.00",                      // hookq's
		"11,000 msg/s (pull Fetch(100)+Ack each)",
		"0.27×", // 3000 / 11000
		"node CPU per ingested message, 3 nodes summed  700 µs",
		"node CPU per consumed message, 3 nodes summed  500 µs",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

func TestCompareWithoutAnchorSaysSkipped(t *testing.T) {
	var out bytes.Buffer
	if err := Compare(&out, sampleReport(), nil, "../shared/anchors/jetstream-bench not found"); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.Contains(got, "JetStream: skipped (../shared/anchors/jetstream-bench not found)") || !strings.Contains(got, "3,000 msg/s") {
		t.Fatalf("table:\n%s", got)
	}
}

func TestReportJSONRoundTripAndTable(t *testing.T) {
	r := sampleReport()
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Phases, r.Phases) {
		t.Fatalf("round trip changed the phases:\n%+v\n%+v", back.Phases[0], r.Phases[0])
	}
	var out bytes.Buffer
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"p99.9", "80.00", "120.00", "150.00", "n1 (leader)", "700.0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCompareShowsHalfRateP99(t *testing.T) {
	r := sampleReport()
	r.Phases = append(r.Phases, &PhaseReport{Name: PhaseIngestHalf, Settings: Settings{Provider: "standard", Concurrency: 64, Rate: 1500},
		Messages: 15000, Latency: []LatencySummary{{Op: opPost, Count: 15000, P99Us: 12340}}})
	var out bytes.Buffer
	if err := Compare(&out, r, nil, "skipped"); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "ingest p99 at half max rate (open loop, 1,500/s)  12.34 ms") {
		t.Fatalf("table lacks the half-rate row:\n%s", got)
	}
}
