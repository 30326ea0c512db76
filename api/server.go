package api

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/health"
)

// Config is the HTTP server's settings.
type Config struct {
	// HTTPAddr is the listen address; PublicURL the base of the URLs in
	// meta (default http://<HTTPAddr>, an unspecified host written
	// 127.0.0.1).
	HTTPAddr  string
	PublicURL string
	// AdminToken, when set, is a bearer token with the admin scope that is
	// not stored in the cluster.
	AdminToken string
	// ClusterKey, when set, is the voters' node-to-node secret. On this
	// API it opens only POST /v1/cluster/join and GET /v1/cluster (see
	// nodeRoutes); it is never an admin bearer.
	ClusterKey string
	// IngestKey, when set, is the ingest nodes' secret. On this API it
	// opens only GET /v1/cluster (leader discovery).
	IngestKey string
	Logger    *slog.Logger
	// Registry receives the API's metrics (default: a new registry).
	Registry *prometheus.Registry
	// TLS, when set, makes Serve speak HTTPS with it (see tlsutil.Listener)
	// and the default PublicURL https://. ClusterTLS says the cluster uses
	// mutual TLS: joining then needs a voter certificate (voterCertOK).
	TLS        *tls.Config
	ClusterTLS bool
	// BodyReadTimeout bounds reading a request's whole body (0:
	// DefaultBodyReadTimeout); MaxConns caps the open connections of
	// Serve (0: DefaultMaxConns). See limits.go.
	BodyReadTimeout time.Duration
	MaxConns        int
	// BodyBudget bounds the request-body bytes that webhooks being
	// received hold at once, node-wide (0: DefaultBodyBudget); a webhook
	// that would go over it is answered 503. See limits.go.
	BodyBudget int64

	ingestOnly bool // set by NewIngestOnly
}

// Server serves the HTTP API of one node.
type Server struct {
	cfg     Config
	in      Ingester
	cons    Consumer
	adm     Admin
	clu     ClusterInfo
	auth    Authenticator
	bak     Backupper
	ready   func() bool
	log     *slog.Logger
	base    string
	mux     *routeMux
	metrics *metrics
	srv     *http.Server
	// streams tracks open SSE streams so shutdown can end them.
	streams *streamSet
	// bodyBytes is the webhook body bytes held now (see BodyBudget).
	bodyBytes atomic.Int64
	// grpc is the gRPC side (RegisterGRPC): its health service.
	grpc *grpcState
}

// New builds a server over a node that plays every role.
func New(cfg Config, node Node) *Server { return NewServer(cfg, BackendsOf(node)) }

// NewServer builds a server over the roles in b.
func NewServer(cfg Config, b Backends) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.BodyReadTimeout <= 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.BodyBudget <= 0 {
		cfg.BodyBudget = DefaultBodyBudget
	}
	s := &Server{cfg: cfg, in: b.Ingester, cons: b.Consumer, adm: b.Admin, clu: b.Cluster, auth: b.Auth, bak: b.Backup, ready: b.Ready, log: cfg.Logger, mux: newRouteMux(), streams: newStreamSet()}
	s.grpc = &grpcState{health: health.NewServer(), done: make(chan struct{})}
	s.base = publicBase(cfg.PublicURL, cfg.HTTPAddr)
	if cfg.PublicURL == "" && cfg.TLS != nil {
		s.base = "https://" + strings.TrimPrefix(s.base, "http://")
	}
	s.metrics = newMetrics(cfg.Registry)
	s.routes()
	// Built here, not in Serve, so Shutdown never races Serve and a
	// Shutdown that comes first makes Serve return at once.
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ConnState:         trackConnState,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          HTTP2MaxConcurrentStreams,
			MaxReceiveBufferPerConnection: HTTP2MaxReceiveBufferPerConnection,
		},
		ErrorLog:  slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		TLSConfig: cfg.TLS,
	}
	return s
}

// publicBase is the scheme://host:port prefix of the URLs in meta.
func publicBase(publicURL, httpAddr string) string {
	if publicURL != "" {
		return strings.TrimRight(publicURL, "/")
	}
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return "http://" + httpAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /readyz", s.handleReady)
	m.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	m.HandleFunc("POST /hooks/{source}", s.handleIngest)
	m.HandleFunc("GET /hooks/{source}", s.handleHookGET)
	m.HandleFunc("/hooks/{source}", s.hookMethodNotAllowed)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errNotFound)
	})
	if s.cfg.ingestOnly {
		return
	}

	// HEAD would run the GET handler: a HEAD on next would lease a message
	// and throw it away, one on stream would hold leases nobody reads.
	m.HandleFunc("HEAD /v1/queues/{q}/next", s.headNotAllowed)
	m.HandleFunc("HEAD /v1/queues/{q}/stream", s.headNotAllowed)
	m.HandleFunc("GET /v1/queues/{q}/next", s.consumer(s.handleNext))
	m.HandleFunc("POST /v1/queues/{q}/deliveries/{id}/{action}", s.consumer(s.handleDeliveryAction))
	m.HandleFunc("POST /v1/queues/{q}/lease", s.consumer(s.handleLease))
	m.HandleFunc("POST /v1/queues/{q}/settle", s.consumer(s.handleSettle))
	m.HandleFunc("GET /v1/queues/{q}/stream", s.consumer(s.handleStream))
	m.HandleFunc("POST /v1/queues/{q}/publish", s.handlePublish)
	s.adminRoutes()
	s.clusterRoutes()
	s.consoleRoutes()
}

func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	if !s.ready() {
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// ServeHTTP makes Server an http.Handler. A request with a body must
// send all of it within BodyReadTimeout (serveBodyDeadline).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.instrument(w, r, s.serve)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		s.mux.ServeHTTP(w, r)
		return
	}
	s.serveBodyDeadline(w, r)
}

// Serve serves on l (HTTPS when Config.TLS is set), at most MaxConns
// connections at a time, until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	var err error
	if s.srv.TLSConfig != nil {
		// The server runs the handshake itself, so plain HTTP sent to
		// this port is answered 400 and the connection closed.
		err = s.srv.ServeTLS(newLimitListener(l, s.cfg.MaxConns, s.log), "", "")
	} else {
		err = s.srv.Serve(newLimitListener(l, s.cfg.MaxConns, s.log))
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, ends open streams (SSE and gRPC Consume, which
// end with Unavailable), reports NOT_SERVING on gRPC health, and waits for in-flight
// requests to finish (or ctx to end). Streams end even when the Server is
// mounted as a handler elsewhere instead of through Serve.
func (s *Server) Shutdown(ctx context.Context) error {
	s.srv.SetKeepAlivesEnabled(false)
	s.streams.closeAll()
	s.shutdownGRPC()
	return s.srv.Shutdown(ctx)
}

// headNotAllowed answers HEAD on routes whose GET changes state.
func (s *Server) headNotAllowed(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Allow", "GET")
	w.WriteHeader(http.StatusMethodNotAllowed)
}
