package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/ingest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
)

// newMetricsEnv is a single-voter Raft node and its API sharing one
// registry, as hookq serve wires them.
func newMetricsEnv(t *testing.T) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	b := brokertest.MustOpenConfig(t, broker.Config{NodeID: "n1", DataDir: t.TempDir(), Raft: brokertest.SoloRaft, Registry: reg})
	e := &env{t: t, b: b, reg: reg}
	e.srv = httptest.NewUnstartedServer(nil)
	e.api = api.New(api.Config{HTTPAddr: e.srv.Listener.Addr().String(), AdminToken: adminToken, Registry: reg}, b)
	e.srv.Config.Handler = e.api
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	return e
}

// scrape parses /metrics with expfmt.
func (e *env) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	resp, body := e.do("GET", "/metrics", "", nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// sample finds the series of name with exactly labels (name=value pairs).
func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no metric family %s", name)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range f.Metric {
		if len(m.Label) != len(want) {
			continue
		}
		for _, l := range m.Label {
			if want[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no series %s%v", name, want)
	return nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return -1
}

// TestMetricsAfterAScriptedSequence: 3 webhooks stored, 1 lease + ack,
// 1 webhook refused; every named counter and gauge has its exact value.
func TestMetricsAfterAScriptedSequence(t *testing.T) {
	e := newMetricsEnv(t)
	e.queue("orders")
	v := ingest.VerifyConfig{Type: "github", Secrets: []string{"gh-secret"}}
	e.source("gh", ingest.SourceConfig{Queues: []string{"orders"}, Verify: v})

	before := e.scrape()
	batchesBefore := sample(t, before, "hookq_raft_apply_batch_size").Histogram.GetSampleCount()
	opsBefore := sample(t, before, "hookq_raft_apply_batch_size").Histogram.GetSampleSum()

	for i := range 3 {
		body := []byte(fmt.Sprintf(`{"n":%d}`, i))
		h := hookSign(t, v, "gh-secret", body, time.Now(), fmt.Sprintf("ev-%d", i))
		resp, out := e.hookPost("gh", "", body, h)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("webhook %d: %d %s", i, resp.StatusCode, out)
		}
	}
	ds := e.admLease("orders", 1, time.Minute)
	if len(ds) != 1 {
		t.Fatalf("leased %d, want 1", len(ds))
	}
	e.admSettle("orders", admAck(ds[0].DeliveryID))
	bad := hookSign(t, v, "wrong-secret", []byte(`{}`), time.Now(), "ev-bad")
	if resp, out := e.hookPost("gh", "", []byte(`{}`), bad); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", resp.StatusCode, out)
	}

	// A gRPC call through the interceptors the gRPC server installs.
	unary, _ := api.GRPCMetricsInterceptors(e.reg)
	if _, err := unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/hookq.v1.Consumer/Lease"},
		func(context.Context, any) (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}

	fams := e.scrape()
	counters := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hookq_ingest_requests_total", []string{"source", "gh", "code", "202"}, 3},
		{"hookq_ingest_requests_total", []string{"source", "gh", "code", "401"}, 1},
		{"hookq_ingest_rejections_total", []string{"source", "gh", "reason", "mismatch"}, 1},
		{"hookq_queue_messages", []string{"queue", "orders", "state", "ready"}, 2},
		{"hookq_queue_messages", []string{"queue", "orders", "state", "inflight"}, 0},
		{"hookq_queue_messages", []string{"queue", "orders", "state", "delayed"}, 0},
		{"hookq_queue_messages", []string{"queue", "orders", "state", "acked"}, 1},
		{"hookq_queue_messages", []string{"queue", "orders.dlq", "state", "ready"}, 0},
		{"hookq_queue_oldest_ready_age_seconds", []string{"queue", "orders.dlq"}, 0},
		{"hookq_deliveries_total", []string{"queue", "orders", "outcome", "ack"}, 1},
		{"hookq_deliveries_total", []string{"queue", "orders", "outcome", "nack"}, 0},
		{"hookq_deliveries_total", []string{"queue", "orders", "outcome", "reject"}, 0},
		{"hookq_deliveries_total", []string{"queue", "orders", "outcome", "expired"}, 0},
		{"hookq_deliveries_total", []string{"queue", "orders", "outcome", "dead_lettered"}, 0},
		{"hookq_raft_state", nil, 2},
		{"hookq_raft_leader_changes_total", nil, 1},
		{"hookq_forward_errors_total", nil, 0},
		{"hookq_raft_term", nil, float64(e.b.Raft().CurrentTerm())},
		{"hookq_raft_commit_index", nil, float64(e.b.Raft().CommitIndex())},
		{"hookq_raft_applied_index", nil, float64(e.b.Store().AppliedIndex())},
	}
	for _, c := range counters {
		if got := value(sample(t, fams, c.name, c.labels...)); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value(sample(t, fams, "hookq_queue_oldest_ready_age_seconds", "queue", "orders")); got <= 0 {
		t.Errorf("oldest ready age of orders = %v, want > 0 (two messages are ready)", got)
	}
	histograms := []struct {
		name   string
		labels []string
		count  uint64
	}{
		{"hookq_ingest_duration_seconds", nil, 3},
		{"hookq_delivery_age_seconds", nil, 1},
		{"hookq_http_request_duration_seconds", []string{"route", "POST /hooks/{source}", "code", "202"}, 3},
		{"hookq_http_request_duration_seconds", []string{"route", "POST /hooks/{source}", "code", "401"}, 1},
		{"hookq_grpc_request_duration_seconds", []string{"method", "/hookq.v1.Consumer/Lease", "code", "OK"}, 1},
	}
	for _, h := range histograms {
		if got := sample(t, fams, h.name, h.labels...).Histogram.GetSampleCount(); got != h.count {
			t.Errorf("%s%v count = %d, want %d", h.name, h.labels, got, h.count)
		}
	}
	// 3 enqueues, 1 lease, 1 ack: five entries of one operation each.
	batch := sample(t, fams, "hookq_raft_apply_batch_size").Histogram
	if n, sum := batch.GetSampleCount()-batchesBefore, batch.GetSampleSum()-opsBefore; n != 5 || sum != 5 {
		t.Errorf("apply batches: %d entries holding %v ops, want 5 and 5", n, sum)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s (Go and process collectors)", name)
		}
	}
	checkRulesUseExportedMetrics(t, fams)
	// No series is labelled with an id.
	for name, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if strings.Contains(l.GetValue(), ds[0].DeliveryID) || strings.Contains(l.GetValue(), ds[0].Message.ID) {
					t.Errorf("%s has an id in label %s", name, l.GetName())
				}
			}
		}
	}
}

var metricNameRE = regexp.MustCompile(`\b(?:hookq|go|process)_[a-z_]+`)

// checkRulesUseExportedMetrics: every metric the alert rules and the
// Grafana dashboard name is one hookq exports (fams is a scrape after
// every kind of traffic), so a renamed metric cannot silently break them.
func checkRulesUseExportedMetrics(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	for _, file := range []string{"../docker/prometheus/alerts.yml", "../docker/grafana/hookq-dashboard.json"} {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := metricNameRE.FindAllString(string(text), -1)
		if len(names) == 0 {
			t.Fatalf("%s names no metric", file)
		}
		for _, n := range names {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && fams[b] != nil && fams[b].GetType() == dto.MetricType_HISTOGRAM {
					base = b
				}
			}
			if fams[base] == nil {
				t.Errorf("%s uses %s, which hookq does not export", file, n)
			}
		}
	}
}

// TestDeliveryOutcomesAreCounted: a nack, a reject (dead-lettering the
// message), a lease that expires and is taken over, and the stale settle
// of that expired delivery (not counted).
func TestDeliveryOutcomesAreCounted(t *testing.T) {
	e := newMetricsEnv(t)
	e.queue("jobs")
	a := e.admEnqueue("jobs", `{"a":1}`)
	e.admEnqueue("jobs", `{"b":2}`)

	d := e.admLease("jobs", 1, time.Minute)[0]
	e.admSettle("jobs", admNack(d.DeliveryID, 0))
	// The nacked message is available again after the other one.
	d = e.admLease("jobs", 1, time.Minute)[0]
	if d.Message.ID == a {
		t.Fatalf("leased the nacked %s before the message that was ready first", a)
	}
	e.admSettle("jobs", admReject(d.DeliveryID))

	short := e.admLease("jobs", 1, time.Second)[0]
	var again broker.Delivery
	admEventually(t, 10*time.Second, "the expired lease to be leased again", func() bool {
		ds, err := e.b.Lease(context.Background(), "jobs", broker.LeaseOptions{Max: 1, Visibility: time.Minute})
		if err != nil || len(ds) == 0 {
			return false
		}
		again = ds[0]
		return true
	})
	if again.Message.ID != short.Message.ID {
		t.Fatalf("leased %s, want the expired %s", again.Message.ID, short.Message.ID)
	}
	res, err := e.b.Settle(context.Background(), "jobs", []broker.SettleItem{admAck(short.DeliveryID)})
	if err != nil || res[0].Err == nil {
		t.Fatalf("acking the expired delivery: %v %v, want lease_expired", res, err)
	}

	fams := e.scrape()
	for outcome, want := range map[string]float64{"ack": 0, "nack": 1, "reject": 1, "expired": 1, "dead_lettered": 1} {
		if got := value(sample(t, fams, "hookq_deliveries_total", "queue", "jobs", "outcome", outcome)); got != want {
			t.Errorf("hookq_deliveries_total{jobs,%s} = %v, want %v", outcome, got, want)
		}
	}
	for state, want := range map[string]float64{"ready": 0, "inflight": 1, "delayed": 0, "acked": 0} {
		if got := value(sample(t, fams, "hookq_queue_messages", "queue", "jobs", "state", state)); got != want {
			t.Errorf("hookq_queue_messages{jobs,%s} = %v, want %v", state, got, want)
		}
	}
	if got := value(sample(t, fams, "hookq_queue_messages", "queue", "jobs.dlq", "state", "ready")); got != 1 {
		t.Errorf("hookq_queue_messages{jobs.dlq,ready} = %v, want 1", got)
	}
	if got := sample(t, fams, "hookq_delivery_age_seconds").Histogram.GetSampleCount(); got != 0 {
		t.Errorf("delivery age observed %d acks, want 0", got)
	}
}
