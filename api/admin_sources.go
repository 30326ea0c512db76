package api

import (
	"fmt"
	"net/http"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/ingest"
)

// sourcePutBody is PUT /v1/sources/{s} (docs/API.md §4.1, §7.2).
type sourcePutBody struct {
	Queues []string `json:"queues"`
	Verify struct {
		Type      string   `json:"type"`
		Secrets   []string `json:"secrets"`
		Header    string   `json:"header"`
		Algorithm string   `json:"algorithm"`
		Encoding  string   `json:"encoding"`
		Prefix    string   `json:"prefix"`
		Tolerance string   `json:"tolerance"`
	} `json:"verify"`
	Dedup struct {
		Key    string `json:"key"`
		Window string `json:"window"`
	} `json:"dedup"`
	MaxBodyBytes int64 `json:"maxBodyBytes"`
}

// sourceJSON is a source as responses write it. Secrets are write-only:
// only their number is shown.
type sourceJSON struct {
	Name   string   `json:"name"`
	Queues []string `json:"queues"`
	Verify struct {
		Type        string  `json:"type"`
		SecretCount int     `json:"secretCount"`
		Header      *string `json:"header"`
		Algorithm   *string `json:"algorithm"`
		Encoding    *string `json:"encoding"`
		Prefix      *string `json:"prefix"`
		Tolerance   string  `json:"tolerance"`
	} `json:"verify"`
	Dedup struct {
		Key    string `json:"key"`
		Window string `json:"window"`
	} `json:"dedup"`
	MaxBodyBytes int64   `json:"maxBodyBytes"`
	CreatedAt    *string `json:"createdAt"`
}

func sourceOf(src broker.Source) sourceJSON {
	var o sourceJSON
	v := src.Verify
	o.Name = src.Name
	o.Queues = append([]string{}, src.Queues...)
	o.Verify.Type = v.Type
	o.Verify.SecretCount = len(v.Secrets)
	o.Verify.Header, o.Verify.Algorithm = optString(v.Header), optString(v.Algorithm)
	o.Verify.Encoding, o.Verify.Prefix = optString(v.Encoding), optString(v.Prefix)
	o.Verify.Tolerance = v.Tolerance.String()
	o.Dedup.Key, o.Dedup.Window = src.Dedup.Key, src.Dedup.Window.String()
	o.MaxBodyBytes = src.MaxBodyBytes
	o.CreatedAt = optTimeOf(src.CreatedAt)
	return o
}

// sourceConfig turns the body into a normalized ingest config; every
// problem is a 400 naming the field.
func sourceConfig(b sourcePutBody) (ingest.SourceConfig, error) {
	c := ingest.SourceConfig{
		Queues: b.Queues,
		Verify: ingest.VerifyConfig{
			Type: b.Verify.Type, Secrets: b.Verify.Secrets, Header: b.Verify.Header,
			Algorithm: b.Verify.Algorithm, Encoding: b.Verify.Encoding, Prefix: b.Verify.Prefix,
		},
		Dedup:        ingest.DedupConfig{Key: b.Dedup.Key},
		MaxBodyBytes: b.MaxBodyBytes,
	}
	if b.Verify.Tolerance != "" {
		d, err := positiveDuration("verify.tolerance", b.Verify.Tolerance)
		if err != nil {
			return c, err
		}
		c.Verify.Tolerance = d
	}
	if b.Dedup.Window != "" {
		d, err := positiveDuration("dedup.window", b.Dedup.Window)
		if err != nil {
			return c, err
		}
		c.Dedup.Window = d
	}
	return c, c.Normalize()
}

// handlePutSource: PUT /v1/sources/{s} → 201 / 200 with the source
// (secrets never echoed). A queue that does not exist is a 400.
func (s *Server) handlePutSource(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("s")
	if !ingest.ValidName(name) {
		s.writeError(w, r, nameError("source", name))
		return
	}
	var body sourcePutBody
	if err := decodeJSON(r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	cfg, err := sourceConfig(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The state machine checks that every queue exists (a local check
	// could be stale on a follower); name the missing one in the answer.
	created, err := s.adm.PutSource(r.Context(), name, cfg)
	if err != nil {
		for i, q := range cfg.Queues {
			if _, qerr := s.adm.Queue(q); qerr != nil {
				s.writeError(w, r, notFoundAs400(err, "queues[%d]: queue %q does not exist", i, q))
				return
			}
		}
		s.writeError(w, r, notFoundAs400(err, "queues: a queue of %v does not exist", cfg.Queues))
		return
	}
	src, err := s.adm.Source(name)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("source %q: %w", name, err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, sourceOf(src))
}

// handleGetSource: GET /v1/sources/{s}.
func (s *Server) handleGetSource(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("s")
	src, err := s.adm.Source(name)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("source %q: %w", name, err))
		return
	}
	writeJSON(w, http.StatusOK, sourceOf(src))
}

// handleListSources: GET /v1/sources → {"sources":[…]} by name.
func (s *Server) handleListSources(w http.ResponseWriter, r *http.Request) {
	srcs, err := s.adm.ListSources()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Sources []sourceJSON `json:"sources"`
	}{Sources: make([]sourceJSON, 0, len(srcs))}
	for _, src := range srcs {
		out.Sources = append(out.Sources, sourceOf(src))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDeleteSource: DELETE /v1/sources/{s} → 204.
func (s *Server) handleDeleteSource(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("s")
	if err := s.adm.DeleteSource(r.Context(), name); err != nil {
		s.writeError(w, r, fmt.Errorf("source %q: %w", name, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
