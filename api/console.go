package api

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/hookq/hookq/ingest"
)

// The web console: plain HTML, CSS and JS embedded in the binary, no
// build step, nothing loaded from elsewhere. It calls only the public /v1
// API with the token the user types (kept in sessionStorage).
//
//go:embed ui
var uiFiles embed.FS

// consoleRoutes serves /ui/ and the small endpoints the console needs
// beyond the rest of /v1 (docs/API.md §11).
func (s *Server) consoleRoutes() {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	s.mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	})
	s.mux.HandleFunc("GET /ui/", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
	s.mux.HandleFunc("GET /v1/sources/{s}/rejections", s.admin(s.handleSourceRejections))
	s.mux.HandleFunc("POST /v1/sources/{s}/test", s.admin(s.handleSourceTest))
	s.mux.HandleFunc("GET /v1/verify-types", s.admin(s.handleVerifyTypes))
}

// handleSourceRejections: GET /v1/sources/{s}/rejections → the webhooks
// this node refused for the source since it started, by reason:
// {"source","since","rejections":[{"reason","count","lastAt"}]}.
func (s *Server) handleSourceRejections(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("s")
	if _, err := s.adm.Source(name); err != nil {
		s.writeError(w, r, fmt.Errorf("source %q: %w", name, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"source": name, "since": s.metrics.recent.started.Format(time.RFC3339Nano), "rejections": s.metrics.recent.of(name),
	})
}

// testEventPrefix starts the event id of every test webhook.
const testEventPrefix = "hookq_test_"

// handleSourceTest: POST /v1/sources/{s}/test — build a sample webhook,
// sign it server-side as the source's provider would with the source's
// first secret, and ingest it through the normal path (verification,
// dedup, enqueue to every queue of the source). The answer is the
// ingest's own: 202 {"messageId","duplicate"} or its error. The secret
// never leaves the server.
func (s *Server) handleSourceTest(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("s")
	src, err := s.adm.Source(name)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("source %q: %w", name, err))
		return
	}
	cfg := src.SourceConfig
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		s.writeError(w, r, fmt.Errorf("%w: random: %v", errUnavailable, err))
		return
	}
	id := testEventPrefix + hex.EncodeToString(rnd[:])
	now := time.Now().UTC()
	if ingest.PublicKeyVerified(cfg.Verify.Type) {
		s.writeError(w, r, badRequest("source %q verifies with the provider's public key: only the provider can sign a test webhook for it", name))
		return
	}
	body, err := json.Marshal(ingest.SampleBody(cfg.Verify.Type, map[string]any{
		"id": id, "event_id": id, "type": "hookq.test", "source": name, "sentAt": now.Format(time.RFC3339Nano),
		"data": map[string]any{"message": "a test webhook sent from the hookq console"},
	}))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	secret := ""
	if len(cfg.Verify.Secrets) > 0 {
		secret = cfg.Verify.Secrets[0]
	}
	// The sample goes to this node's own ingest URL, as the caller reached
	// it, so the presets that sign the URL (hubspot, square, twilio) sign
	// the URL the ingest route will see.
	base, _, _ := strings.Cut(requestURL(r), "/v1/")
	signed, err := ingest.SignRequest(&cfg, secret, http.MethodPost, base+"/hooks/"+url.PathEscape(name), body, now, id)
	if err != nil {
		s.writeError(w, r, badRequest("source %q cannot be signed for a test: %v", name, err))
		return
	}
	req := httptest.NewRequestWithContext(r.Context(), http.MethodPost, signed.URL, bytes.NewReader(signed.Body))
	req.TLS = r.TLS
	for _, h := range []string{"X-Forwarded-Proto", "X-Forwarded-Host"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	for k, vs := range signed.Header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Hookq-Test", "true")
	req.Header.Set("User-Agent", "hookq-console-test")
	// A token source may take its secret in the query instead: SignRequest
	// always uses the header, which Verify accepts too.
	req.RemoteAddr = r.RemoteAddr
	req.SetPathValue("source", name)
	rec := httptest.NewRecorder()
	s.handleIngest(rec, req)
	auditAttr(r, "ingestStatus", rec.Code)
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}
