package api

import (
	"net/http"
	"time"
)

// SetStreamTiming shortens the SSE keep-alive interval (docs/API.md §6.7: 15s) and
// how often a full stream re-reads its held deliveries, so tests need not
// wait for the real values. Streams opened afterwards use them.
func SetStreamTiming(s *Server, keepAlive, recheck time.Duration) {
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	s.streams.timing = streamTiming{keepAlive: keepAlive, recheck: recheck}
}

// RouteOf is the pattern of the route s's mux picks for r: "/" when only
// the catch-all matches.
func RouteOf(s *Server, r *http.Request) string {
	_, pattern := s.mux.Handler(r)
	return pattern
}

// VerifyTypeHintKeys is every verify.type the console's hint table names.
func VerifyTypeHintKeys() []string {
	out := make([]string, 0, len(verifyTypeHints))
	for t := range verifyTypeHints {
		out = append(out, t)
	}
	return out
}
