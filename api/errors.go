package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/ingest"
)

// API-level sentinels; domain errors come from broker and ingest.
var (
	errUnauthenticated = errors.New("api: missing or invalid token")
	errForbidden       = errors.New("api: token lacks the scope")
	errBadRequest      = errors.New("api: bad request")
	errTooLarge        = errors.New("api: payload too large")
	errNotFound        = errors.New("api: not found")
	errConflict        = errors.New("api: conflict")
	errUnavailable     = errors.New("api: unavailable")
)

// errorTable is the one mapping from errors to HTTP status and code. The
// first entry that errors.Is matches wins; anything else is a 500.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{errBadRequest, http.StatusBadRequest, "bad_request"},
	{ingest.ErrInvalidConfig, http.StatusBadRequest, "bad_request"},
	{broker.ErrBadRequest, http.StatusBadRequest, "bad_request"},
	{broker.ErrNotDeadLetter, http.StatusBadRequest, "bad_request"},
	{broker.ErrBadCursor, http.StatusBadRequest, "bad_request"},
	{broker.ErrDeadLetterCycle, http.StatusBadRequest, "bad_request"},
	{broker.ErrSelectionTooLarge, http.StatusBadRequest, "bad_request"},
	{broker.ErrInvalidOp, http.StatusBadRequest, "bad_request"},
	{broker.ErrUnknownOp, http.StatusBadRequest, "bad_request"},
	{broker.ErrUndecodable, http.StatusBadRequest, "bad_request"},
	{errUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{ingest.ErrSignatureInvalid, http.StatusUnauthorized, "signature_invalid"},
	{ingest.ErrTimestampOutOfWindow, http.StatusUnauthorized, "timestamp_out_of_window"},
	{errForbidden, http.StatusForbidden, "forbidden"},
	{errNotFound, http.StatusNotFound, "not_found"},
	{broker.ErrQueueNotFound, http.StatusNotFound, "not_found"},
	{broker.ErrSourceNotFound, http.StatusNotFound, "not_found"},
	{broker.ErrTokenNotFound, http.StatusNotFound, "not_found"},
	{broker.ErrNodeNotFound, http.StatusNotFound, "not_found"},
	{broker.ErrMessageNotFound, http.StatusNotFound, "not_found"},
	{broker.ErrDeliveryNotFound, http.StatusNotFound, "not_found"},
	{broker.ErrLeaseExpired, http.StatusConflict, "lease_expired"},
	{broker.ErrTokenExists, http.StatusConflict, "conflict"},
	{errConflict, http.StatusConflict, "conflict"},
	{errTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large"},
	{broker.ErrQueueFull, http.StatusServiceUnavailable, "queue_full"},
	{errUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{broker.ErrNotLeader, http.StatusServiceUnavailable, "unavailable"},
	{broker.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{broker.ErrClosed, http.StatusServiceUnavailable, "unavailable"},
}

// retryAfterSeconds is the Retry-After sent with every 503.
const retryAfterSeconds = "1"

// classify returns the status and code for err.
func classify(err error) (int, string) {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.status, e.code
		}
	}
	return http.StatusInternalServerError, "internal"
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
	var body errorBody
	body.Error.Code = code
	body.Error.Message = err.Error()
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
