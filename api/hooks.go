package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/ingest"
)

// SecretCapturer is what Asana's handshake needs: a node that can store
// the secret a provider hands over, through a replicated write
// (*broker.Broker). An ingest-only node has none and answers such a
// handshake 503.
type SecretCapturer interface {
	CaptureSourceSecret(ctx context.Context, name, secret string) error
}

// credentialHeaders are never stored with a message: for token, basic,
// okta (Authorization) and gitlab sources they carry the source's secret,
// and Asana's handshake header is the secret itself.
var credentialHeaders = map[string]bool{
	"Authorization": true, "X-Webhook-Token": true, "X-Gitlab-Token": true, ingest.HeaderAsanaSecret: true,
}

// handleIngest: POST /hooks/{source}. Verify on the raw bytes, then
// enqueue; 202 only once the message is committed by a Raft majority.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("source")
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	w = sw
	src, err := s.in.Source(name)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("source %q: %w", name, err))
		s.metrics.requests.WithLabelValues(unknownSource, sw.code()).Inc()
		return
	}
	defer func() { s.metrics.requests.WithLabelValues(name, sw.code()).Inc() }()
	cfg := src.SourceConfig
	// A source that feeds no queue (its queues were deleted) or whose
	// stored settings no longer validate is the operator's to fix: answer
	// 503 so the provider retries, never a 4xx it would take as final.
	if len(cfg.Queues) == 0 {
		s.reject(w, r, name, "no_queue", fmt.Errorf("%w: source %q feeds no queue", errUnavailable, name))
		return
	}
	if err := cfg.Normalize(); err != nil {
		s.log.Error("source is misconfigured", "source", name, "err", err)
		s.reject(w, r, name, "misconfigured", fmt.Errorf("%w: source %q is misconfigured", errUnavailable, name))
		return
	}
	if r.ContentLength > cfg.MaxBodyBytes {
		s.reject(w, r, name, "too_large", fmt.Errorf("%w: body of %d bytes is over the source's limit of %d", errTooLarge, r.ContentLength, cfg.MaxBodyBytes))
		return
	}
	// The body is held until the request ends, within the node-wide
	// body budget (reserveBody).
	br := &budgetReader{r: http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes), s: s}
	defer br.release()
	if r.ContentLength > 0 {
		if !s.reserveBody(r.ContentLength) {
			s.reject(w, r, name, "busy", errBodyBudget)
			return
		}
		br.reserved = r.ContentLength
	}
	body, err := io.ReadAll(br)
	if err != nil {
		if errors.Is(err, errBodyBudget) {
			s.reject(w, r, name, "busy", err)
			return
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.reject(w, r, name, "too_large", fmt.Errorf("%w: body is over the source's limit of %d bytes", errTooLarge, cfg.MaxBodyBytes))
			return
		}
		s.writeError(w, r, badRequest("reading body: %v", err))
		return
	}
	res, err := ingest.Verify(&cfg, ingest.Request{Method: r.Method, URL: requestURL(r), Header: r.Header, Query: r.URL.Query(), Body: body}, time.Now())
	if err != nil {
		s.reject(w, r, name, ingest.Reason(err), err)
		return
	}
	if res.Reply != nil {
		s.answerHandshake(w, r, name, res.Reply)
		return
	}
	if res.Challenge != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, res.Challenge)
		return
	}
	out, err := s.in.Enqueue(r.Context(), broker.EnqueueRequest{
		Source: name, Queues: cfg.Queues, Body: body, ContentType: []byte(r.Header.Get("Content-Type")),
		Headers: storedHeaders(r.Header), EventID: res.EventID, DedupKey: res.DedupKey, DedupWindow: cfg.Dedup.Window,
	})
	if err != nil {
		if errors.Is(err, broker.ErrQueueFull) {
			s.metrics.rejections.WithLabelValues(name, "queue_full").Inc()
			s.metrics.recent.add(name, "queue_full")
		}
		if errors.Is(err, broker.ErrQueueNotFound) {
			// Deleted between reading the source and committing.
			err = fmt.Errorf("%w: a queue of source %q no longer exists", errUnavailable, name)
		}
		s.writeError(w, r, fmt.Errorf("source %q: %w", name, err))
		return
	}
	status := http.StatusAccepted
	if out.Duplicate {
		status = http.StatusOK
	}
	s.metrics.ingestDuration.Observe(time.Since(start).Seconds())
	writeJSON(w, status, map[string]any{"messageId": out.MessageID, "duplicate": out.Duplicate})
}

// handleHookGET: GET /hooks/{source}. Only the presets whose providers
// send a GET handshake (ingest.AnswersGET: meta, dropbox, okta) take it,
// and only a handshake is ever answered; every other source, and a source
// that does not exist, gets the one 405 of hookMethodNotAllowed.
func (s *Server) handleHookGET(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("source")
	src, err := s.in.Source(name)
	if errors.Is(err, broker.ErrSourceNotFound) || (err == nil && !ingest.AnswersGET(src.Verify.Type)) {
		s.hookMethodNotAllowed(w, r)
		return
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("source %q: %w", name, err))
		return
	}
	cfg := src.SourceConfig
	if err := cfg.Normalize(); err != nil {
		s.log.Error("source is misconfigured", "source", name, "err", err)
		s.reject(w, r, name, "misconfigured", fmt.Errorf("%w: source %q is misconfigured", errUnavailable, name))
		return
	}
	res, err := ingest.Verify(&cfg, ingest.Request{Method: http.MethodGet, URL: requestURL(r), Header: r.Header, Query: r.URL.Query()}, time.Now())
	if err != nil {
		s.reject(w, r, name, ingest.Reason(err), err)
		return
	}
	if res.Reply == nil { // a GET is never an event
		s.hookMethodNotAllowed(w, r)
		return
	}
	s.answerHandshake(w, r, name, res.Reply)
}

// reject counts and logs a refused webhook (never its body or secrets).
func (s *Server) reject(w http.ResponseWriter, r *http.Request, source, reason string, err error) {
	if reason == "" {
		reason = "other"
	}
	s.metrics.rejections.WithLabelValues(source, reason).Inc()
	s.metrics.recent.add(source, reason)
	s.log.Info("webhook rejected", "source", source, "reason", reason, "remote", r.RemoteAddr, "err", err)
	s.writeError(w, r, err)
}

// storedHeaders are the request headers kept with the message, sorted,
// multi-values joined by ", ", credentials dropped.
func storedHeaders(h http.Header) []broker.Header {
	names := make([]string, 0, len(h))
	for n := range h {
		if !credentialHeaders[http.CanonicalHeaderKey(n)] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]broker.Header, 0, len(names))
	for _, n := range names {
		out = append(out, broker.Header{Name: n, Value: []byte(strings.Join(h[n], ", "))})
	}
	return out
}

// requestURL is the URL the provider sent the request to, as presets that
// sign it (hubspot, square, twilio) need it: the scheme (https when the
// connection is TLS, or when a proxy in front says X-Forwarded-Proto:
// https), the host (X-Forwarded-Host from such a proxy, else Host), and the
// path and query as received. The forwarded headers only feed the
// signature check: a client that sets them cannot forge a signature, but
// it can present a request that was signed for another host with the same
// path and key (a replay, which the presets' timestamps bound where the
// provider signs one; Twilio signs none).
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := firstForwarded(r.Header.Get("X-Forwarded-Proto")); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if h := firstForwarded(r.Header.Get("X-Forwarded-Host")); h != "" {
		host = h
	}
	return scheme + "://" + host + r.URL.RequestURI()
}

// firstForwarded is the first entry of a comma-separated forwarding
// header (the one the outermost proxy set), trimmed.
func firstForwarded(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// answerHandshake answers a provider's handshake (or Discord's PING) as
// ingest says, enqueueing nothing. A secret handed over in the handshake
// (Asana) is stored first, through the replicated source write; the
// answer goes out only once it is committed.
func (s *Server) answerHandshake(w http.ResponseWriter, r *http.Request, name string, rep *ingest.Reply) {
	if rep.CaptureSecret != "" {
		// Storing a secret is a source write made without a token: it is
		// audited like the admin writes (never the secret itself).
		rec := &auditRecord{who: "(handshake)", attrs: []any{"source", name}}
		r = r.WithContext(context.WithValue(r.Context(), auditKey{}, rec))
		sw := &statusWriter{ResponseWriter: w}
		w = sw
		defer func() { s.writeAudit(r, rec, "source.capture-secret", sw.code()) }()
		c, ok := s.in.(SecretCapturer)
		if !ok {
			s.reject(w, r, name, "no_capture", fmt.Errorf("%w: this node cannot store a handshake secret: point the provider at a voter", errUnavailable))
			return
		}
		if err := c.CaptureSourceSecret(r.Context(), name, rep.CaptureSecret); err != nil {
			s.writeError(w, r, fmt.Errorf("source %q: %w", name, err))
			return
		}
	}
	for k, vs := range rep.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if rep.ContentType != "" {
		w.Header().Set("Content-Type", rep.ContentType)
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(rep.Body)
}
