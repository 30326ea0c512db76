package api

import (
	"math"
	"net/http"
	"time"

	"github.com/hookq/hookq/broker"
)

// adminRoutes registers the admin API of docs/API.md §7. Everything needs the admin scope
// except reads of one queue, its messages and one message, which also
// accept read:<q> / read:*, and the queue list, which shows the queues the
// caller may read.
func (s *Server) adminRoutes() {
	m := s.mux
	m.HandleFunc("GET /v1/queues", s.handleListQueues)
	m.HandleFunc("PUT /v1/queues/{q}", s.admin(s.handlePutQueue))
	m.HandleFunc("GET /v1/queues/{q}", s.reader(s.handleGetQueue))
	m.HandleFunc("DELETE /v1/queues/{q}", s.admin(s.handleDeleteQueue))

	m.HandleFunc("GET /v1/queues/{q}/messages", s.reader(s.handleListMessages))
	m.HandleFunc("GET /v1/queues/{q}/messages/{messageId}", s.reader(s.handleGetMessage))
	m.HandleFunc("POST /v1/queues/{q}/replay", s.admin(s.handleReplay))
	m.HandleFunc("POST /v1/queues/{q}/redrive", s.admin(s.handleRedrive))
	m.HandleFunc("POST /v1/queues/{q}/purge", s.admin(s.handlePurge))

	m.HandleFunc("GET /v1/sources", s.admin(s.handleListSources))
	m.HandleFunc("PUT /v1/sources/{s}", s.admin(s.handlePutSource))
	m.HandleFunc("GET /v1/sources/{s}", s.admin(s.handleGetSource))
	m.HandleFunc("DELETE /v1/sources/{s}", s.admin(s.handleDeleteSource))

	m.HandleFunc("GET /v1/cluster/backup", s.admin(s.handleBackup))

	m.HandleFunc("POST /v1/tokens", s.admin(s.handleCreateToken))
	m.HandleFunc("GET /v1/tokens", s.admin(s.handleListTokens))
	m.HandleFunc("DELETE /v1/tokens/{name}", s.admin(s.handleDeleteToken))

	m.HandleFunc("GET /v1/cluster", s.admin(s.handleCluster))
}

// admin wraps a handler that needs the admin scope.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.authorize(w, r, "admin", ""); !ok {
			return
		}
		h(w, r)
	}
}

// reader wraps a handler of queue {q} that needs read:<q> (or admin).
func (s *Server) reader(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.authorize(w, r, "read", r.PathValue("q")); !ok {
			return
		}
		h(w, r)
	}
}

// positiveDuration parses an optional-bounded duration that must be > 0.
func positiveDuration(field, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, badRequest("%s: %q is not a duration (like \"30s\")", field, v)
	}
	if d <= 0 {
		return 0, badRequest("%s: %v must be positive", field, d)
	}
	return d, nil
}

// checkReason bounds a nack or reject reason (it is kept in the message's
// delivery history).
func checkReason(field, v string) error {
	if len(v) > broker.MaxReasonBytes {
		return badRequest("%s: at most %d bytes", field, broker.MaxReasonBytes)
	}
	return nil
}

// parseTimeField parses an RFC 3339 time for field.
func parseTimeField(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest("%s: %q is not an RFC 3339 time (like \"2024-05-01T12:00:00Z\")", field, v)
	}
	return t, nil
}

// checkUint32 bounds an integer setting to what the record stores.
func checkUint32(field string, v int64) error {
	if v < 0 || v > math.MaxUint32 {
		return badRequest("%s: %d is outside 0..%d", field, v, uint32(math.MaxUint32))
	}
	return nil
}

// nameError is the 400 for a source or queue name that does not match
// docs/API.md §1.2.
func nameError(field, name string) error {
	return badRequest("%s: invalid name %q: want ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", field, name)
}
