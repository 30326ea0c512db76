package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/hookq/hookq/broker"
)

// API-level sentinels; they and the domain errors of broker and ingest
// are classified by broker's one error table (broker.Classify).
var (
	errUnauthenticated  = broker.ErrUnauthenticated
	errForbidden        = broker.ErrForbidden
	errBadRequest       = broker.ErrInvalidRequest
	errTooLarge         = broker.ErrTooLarge
	errNotFound         = broker.ErrNotFound
	errUnavailable      = broker.ErrNotReady
	errMethodNotAllowed = broker.ErrMethodNotAllowed
)

// retryAfterSeconds is the Retry-After sent with every 503.
const retryAfterSeconds = "1"

// classify returns the status and code for err.
func classify(err error) (int, string) {
	c := broker.Classify(err)
	return c.HTTPStatus, c.Code
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError answers err as the JSON error shape of docs/API.md §2.6.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := classify(err)
	auditError(r, code)
	var body errorBody
	body.Error.Code = code
	body.Error.Message = broker.PublicMessage(err)
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Error.Message = "internal error"
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	writeJSON(w, status, body)
}

// badRequest builds a 400 whose message names what was wrong.
func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
