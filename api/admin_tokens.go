package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/hookq/hookq/ingest"
)

type tokenBody struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
}

// tokenJSON is one element of GET /v1/tokens (never the secret).
type tokenJSON struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	CreatedAt *string  `json:"createdAt"`
}

// scopeKinds are the scopes that take a queue (or "*").
var scopeKinds = map[string]bool{"consume": true, "publish": true, "read": true}

// checkScopes validates every scope and returns them without repeats.
func checkScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, badRequest("scopes: at least one scope is required")
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(scopes))
	for i, sc := range scopes {
		kind, q, hasQ := strings.Cut(sc, ":")
		ok := sc == "admin" || (hasQ && scopeKinds[kind] && (q == "*" || ingest.ValidName(q)))
		if !ok {
			return nil, badRequest("scopes[%d]: %q is not admin, consume:<queue|*>, publish:<queue|*> or read:<queue|*>", i, sc)
		}
		if !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	return out, nil
}

// handleCreateToken: POST /v1/tokens → 201 {"name","token"}; the secret is
// shown once and stored hashed. A taken name is 409 conflict.
func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	var body tokenBody
	if err := decodeJSON(r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	auditAttr(r, "token", body.Name)
	if !ingest.ValidName(body.Name) {
		s.writeError(w, r, nameError("name", body.Name))
		return
	}
	scopes, err := checkScopes(body.Scopes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	secret, err := s.adm.CreateToken(r.Context(), body.Name, scopes)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("token %q: %w", body.Name, err))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"name": body.Name, "token": secret})
}

// handleListTokens: GET /v1/tokens → {"tokens":[{"name","scopes","createdAt"}]}.
func (s *Server) handleListTokens(w http.ResponseWriter, r *http.Request) {
	recs, err := s.adm.Tokens()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Tokens []tokenJSON `json:"tokens"`
	}{Tokens: make([]tokenJSON, 0, len(recs))}
	for _, t := range recs {
		out.Tokens = append(out.Tokens, tokenJSON{Name: t.Name, Scopes: append([]string{}, t.Scopes...), CreatedAt: optTimeOf(t.CreatedAt)})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDeleteToken: DELETE /v1/tokens/{name} → 204; unknown 404.
func (s *Server) handleDeleteToken(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.adm.DeleteToken(r.Context(), name); err != nil {
		s.writeError(w, r, fmt.Errorf("token %q: %w", name, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type nodeJSON struct {
	ID           string `json:"id"`
	RaftAddr     string `json:"raftAddr"`
	HTTPAddr     string `json:"httpAddr"`
	GRPCAddr     string `json:"grpcAddr"`
	Role         string `json:"role"`
	Suffrage     string `json:"suffrage"`
	Healthy      bool   `json:"healthy"`
	AppliedIndex uint64 `json:"appliedIndex"`
	Version      string `json:"version,omitempty"`
}

// handleCluster: GET /v1/cluster.
func (s *Server) handleCluster(w http.ResponseWriter, r *http.Request) {
	info, err := s.clu.Cluster()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := struct {
		Leader string     `json:"leader"`
		Term   uint64     `json:"term"`
		Nodes  []nodeJSON `json:"nodes"`
	}{Leader: info.Leader, Term: info.Term, Nodes: make([]nodeJSON, 0, len(info.Nodes))}
	for _, n := range info.Nodes {
		out.Nodes = append(out.Nodes, nodeJSON{
			ID: n.ID, RaftAddr: n.RaftAddr, HTTPAddr: n.HTTPAddr, GRPCAddr: n.GRPCAddr,
			Role: n.Role, Suffrage: n.Suffrage, Healthy: n.Healthy, AppliedIndex: n.AppliedIndex, Version: n.Version,
		})
	}
	writeJSON(w, http.StatusOK, out)
}
