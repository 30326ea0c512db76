package api

import (
	"fmt"
	"net/http"

	"github.com/hookq/hookq/broker"
)

// clusterRoutes are the membership endpoints of docs/API.md §7.8 (GET /v1/cluster
// is with the admin routes).
func (s *Server) clusterRoutes() {
	s.mux.HandleFunc("POST /v1/cluster/join", s.handleJoin)
	s.mux.HandleFunc("DELETE /v1/cluster/nodes/{id}", s.handleRemoveNode)
	s.mux.HandleFunc("POST /v1/cluster/transfer-leadership", s.handleTransferLeadership)
}

type joinBody struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr"`
	GRPCAddr string `json:"grpcAddr"`
}

// handleJoin: POST /v1/cluster/join — add a fresh node as a voter.
func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	if !s.voterCertOK(w, r) {
		return
	}
	if _, ok := s.authorize(w, r, "admin", ""); !ok {
		return
	}
	var body joinBody
	if err := decodeJSON(r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.ID == "" || body.RaftAddr == "" {
		s.writeError(w, r, badRequest("id and raftAddr are required"))
		return
	}
	n := broker.Node{ID: body.ID, RaftAddr: body.RaftAddr, HTTPAddr: body.HTTPAddr, GRPCAddr: body.GRPCAddr, Role: "voter"}
	if err := s.clu.Join(r.Context(), n); err != nil {
		s.writeError(w, r, fmt.Errorf("join %s: %w", body.ID, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleRemoveNode: DELETE /v1/cluster/nodes/{id}.
func (s *Server) handleRemoveNode(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, "admin", ""); !ok {
		return
	}
	id := r.PathValue("id")
	if err := s.clu.RemoveNode(r.Context(), id); err != nil {
		s.writeError(w, r, fmt.Errorf("node %s: %w", id, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleTransferLeadership: POST /v1/cluster/transfer-leadership.
func (s *Server) handleTransferLeadership(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, "admin", ""); !ok {
		return
	}
	var body struct {
		ID string `json:"id"`
	}
	if err := decodeJSON(r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.clu.TransferLeadership(r.Context(), body.ID); err != nil {
		s.writeError(w, r, fmt.Errorf("transfer leadership: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
