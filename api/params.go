package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Limits of docs/API.md §3.1 and §6.
const (
	maxWait       = 30 * time.Second
	minVisibility = time.Second
	maxVisibility = 12 * time.Hour
	maxNackDelay  = 12 * time.Hour
	maxJSONBody   = 1 << 20
	maxLeaseBatch = 1000
)

// parseDuration parses a Go duration for field, bounded to [lo, hi].
func parseDuration(field, s string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, badRequest("%s: %q is not a duration (like \"30s\")", field, s)
	}
	if d < lo || d > hi {
		return 0, badRequest("%s: %v is outside %v..%v", field, d, lo, hi)
	}
	return d, nil
}

// queryDuration reads an optional duration query parameter.
func queryDuration(r *http.Request, name string, lo, hi time.Duration) (time.Duration, bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, false, nil
	}
	d, err := parseDuration(name, s, lo, hi)
	return d, true, err
}

func queryBool(r *http.Request, name string) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, badRequest("%s: %q is not a boolean", name, s)
	}
	return v, nil
}

func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, badRequest("%s: %q is not an integer in %d..%d", name, s, lo, hi)
	}
	return v, nil
}

// decodeJSON decodes r's body into v strictly (unknown fields rejected).
// An empty body leaves v unchanged when optional is true.
func decodeJSON(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxJSONBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: JSON body over %d bytes", errTooLarge, maxJSONBody)
		}
		return badRequest("reading body: %v", err)
	}
	return decodeStrict(body, v, optional)
}

// decodeStrict decodes one JSON object from body into v: unknown fields
// and trailing data are refused; an empty body (or null) leaves v
// unchanged when optional is true and is refused otherwise.
func decodeStrict(body []byte, v any, optional bool) error {
	if len(body) == 0 || string(body) == "null" {
		if optional {
			return nil
		}
		return badRequest("a JSON body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON: %s", jsonErrorText(err))
	}
	if dec.More() {
		return badRequest("malformed JSON: trailing data after the object")
	}
	return nil
}

func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q: expected %s", te.Field, te.Type)
	}
	return err.Error()
}

// rfc3339 formats unix nanos as docs/API.md §2.4 wants: RFC 3339 with nanos, UTC.
func rfc3339(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// rfc3339Time is rfc3339 of a broker time (the zero time as 0 was).
func rfc3339Time(t time.Time) string {
	if t.IsZero() {
		return rfc3339(0)
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// optTimeOf is optTime of a broker time (nil for the zero time).
func optTimeOf(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
