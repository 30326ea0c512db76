package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// unknownSource labels ingest requests for a source that does not exist,
// so made-up names cannot grow the label set.
const unknownSource = "(unknown)"

// durationBuckets are the buckets of the request-duration histograms.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// metrics are the API's series. Labels are source and queue names
// (bounded by config), route patterns and fixed enums, never ids.
type metrics struct {
	requests       *prometheus.CounterVec // hookq_ingest_requests_total{source,code}
	published      *prometheus.CounterVec // hookq_published_total{queue}
	rejections     *prometheus.CounterVec // hookq_ingest_rejections_total{source,reason}
	ingestDuration prometheus.Histogram   // request → commit of stored webhooks
	httpDuration   *prometheus.HistogramVec
	recent         *rejectionLog
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookq_published_total", Help: "Messages published (gRPC Publish, POST /v1/queues/{q}/publish) and durably enqueued, by queue; duplicates not counted.",
		}, []string{"queue"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookq_ingest_requests_total", Help: "Webhooks received, by source and HTTP status code answered.",
		}, []string{"source", "code"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookq_ingest_rejections_total", Help: "Webhooks refused, by source and reason.",
		}, []string{"source", "reason"}),
		ingestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hookq_ingest_duration_seconds", Help: "Time from a webhook's request to its commit by a Raft majority (stored and duplicate answers).",
			Buckets: durationBuckets,
		}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hookq_http_request_duration_seconds", Help: "HTTP requests by route pattern and status code (SSE streams: until they end).",
			Buckets: durationBuckets,
		}, []string{"route", "code"}),
		recent: newRejectionLog(),
	}
	reg.MustRegister(m.published, m.requests, m.rejections, m.ingestDuration, m.httpDuration)
	registerRuntime(reg)
	return m
}

// registerRuntime adds the Go and process collectors once per registry
// (a voter's registry may be shared with other servers of the node).
func registerRuntime(reg *prometheus.Registry) {
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			if _, dup := err.(prometheus.AlreadyRegisteredError); !dup { //nolint:errorlint // Register returns it unwrapped
				panic(err)
			}
		}
	}
}

// statusWriter records the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flush,
// deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() string {
	if w.status == 0 {
		return "200"
	}
	return strconv.Itoa(w.status)
}

// instrument serves r through next and observes its duration under the
// route pattern that matched it ("" for none: the 404 catch-all).
func (s *Server) instrument(w http.ResponseWriter, r *http.Request, next func(http.ResponseWriter, *http.Request)) {
	_, route := s.mux.Handler(r)
	if route == "" || route == "/" {
		route = "other"
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	r, rec, action := startAudit(r, route)
	next(sw, r)
	s.metrics.httpDuration.WithLabelValues(route, sw.code()).Observe(time.Since(start).Seconds())
	if rec != nil {
		s.writeAudit(r, rec, action, sw.code())
	}
}

// rejectionLog keeps, per source and reason, how many webhooks this node
// refused since it started and when the last was (GET
// /v1/sources/{s}/rejections). Bounded: sources that are not configured
// are never recorded (reject is only called for known sources).
type rejectionLog struct {
	mu      sync.Mutex
	started time.Time
	by      map[string]map[string]*rejectionCount
}

type rejectionCount struct {
	Reason string    `json:"reason"`
	Count  int64     `json:"count"`
	LastAt time.Time `json:"lastAt"`
}

func newRejectionLog() *rejectionLog {
	return &rejectionLog{started: time.Now().UTC(), by: map[string]map[string]*rejectionCount{}}
}

func (l *rejectionLog) add(source, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.by[source]
	if m == nil {
		if len(l.by) >= 10000 {
			l.by = map[string]map[string]*rejectionCount{}
		}
		m = map[string]*rejectionCount{}
		l.by[source] = m
	}
	c := m[reason]
	if c == nil {
		c = &rejectionCount{Reason: reason}
		m[reason] = c
	}
	c.Count++
	c.LastAt = time.Now().UTC()
}

// of lists source's counts, by reason name.
func (l *rejectionLog) of(source string) []rejectionCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []rejectionCount{}
	for _, c := range l.by[source] {
		out = append(out, *c)
	}
	sortRejections(out)
	return out
}

func sortRejections(cs []rejectionCount) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Reason < cs[j-1].Reason; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// GRPCMetricsInterceptors return a unary and a stream server interceptor
// that observe hookq_grpc_request_duration_seconds{method,code} into reg
// (the node's registry; the histogram is registered once per registry).
// method is the full gRPC method name, code the status code name.
func GRPCMetricsInterceptors(reg prometheus.Registerer) (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hookq_grpc_request_duration_seconds", Help: "gRPC calls by full method name and status code (streams: until they end).",
		Buckets: durationBuckets,
	}, []string{"method", "code"})
	if err := reg.Register(h); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok { //nolint:errorlint // Register returns it unwrapped
			h = are.ExistingCollector.(*prometheus.HistogramVec)
		} else {
			panic(err)
		}
	}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		h.WithLabelValues(info.FullMethod, status.Code(err).String()).Observe(time.Since(start).Seconds())
		return resp, err
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		h.WithLabelValues(info.FullMethod, status.Code(err).String()).Observe(time.Since(start).Seconds())
		return err
	}
	return unary, stream
}
