package api

// IngestBackend is what an ingest-only node offers (*cluster.IngestNode):
// the Ingester role and readiness.
type IngestBackend interface {
	Ingester
	Ready() bool
}

// NewIngestOnly builds a server for an ingest node: only /hooks/*,
// /healthz, /readyz and /metrics are served.
func NewIngestOnly(cfg Config, ib IngestBackend) *Server {
	cfg.ingestOnly = true
	return NewServer(cfg, Backends{Ingester: ib, Ready: ib.Ready})
}
