package api

import (
	"net/http"
	"sync"
)

// streamSet tracks open SSE streams so Shutdown can end them.
type streamSet struct {
	mu      sync.Mutex
	closing bool
	cancels map[int]func()
	next    int
}

func newStreamSet() *streamSet { return &streamSet{cancels: map[int]func(){}} }

func (s *streamSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	for _, c := range s.cancels {
		c()
	}
}

// handleStream: GET /v1/queues/{q}/stream (SSE). Placeholder until the
// streaming implementation lands.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request, q string) {
	s.writeError(w, r, errNotFound)
}
