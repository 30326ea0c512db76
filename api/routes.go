package api

import (
	"net/http"
	"slices"
)

// routeMux is the server's ServeMux that remembers every pattern it is
// given, so a test can hold the routes against docs/openapi.yaml in both
// directions.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func newRouteMux() *routeMux { return &routeMux{ServeMux: http.NewServeMux()} }

// Handle registers h for pattern and records the pattern.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// HandleFunc registers h for pattern and records the pattern.
func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

// Routes is every pattern registered on the server's mux, in the order
// of registration ("GET /healthz", "POST /hooks/{source}", "/", …).
func (s *Server) Routes() []string { return slices.Clone(s.mux.patterns) }

// hookMethodNotAllowed answers a method /hooks/{source} does not take:
// 405 with Allow: POST. It is the one place that says so; a route for
// another method on /hooks/{source} takes precedence over it.
func (s *Server) hookMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", http.MethodPost)
	s.writeError(w, r, errMethodNotAllowed)
}
