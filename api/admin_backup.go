package api

import (
	"net/http"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/internal/backupfile"
)

// handleBackup: GET /v1/cluster/backup (admin) — a consistent snapshot of
// this node's state, taken once it has caught up with the leader, streamed
// as a backup file (internal/backupfile: format version, header, the
// store's snapshot stream, SHA-256 trailer). A stream that fails midway is
// cut off without its trailer, so the client sees it is incomplete.
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	if s.bak == nil {
		s.writeError(w, r, errNotFound)
		return
	}
	bk, err := s.bak.Backup(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer bk.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="hookq-`+bk.Node+`.backup"`)
	w.WriteHeader(http.StatusOK)
	start := time.Now()
	bw, err := backupfile.NewWriter(w, backupfile.Header{DataFormat: broker.DataFormat, Release: bk.Release, Node: bk.Node, Created: start.UTC()})
	if err == nil {
		var n int64
		n, err = bk.WriteTo(bw)
		if err == nil {
			err = bw.Close()
		}
		if err == nil {
			s.log.Info("backup streamed", "bytes", n, "took", time.Since(start).Round(time.Millisecond))
			return
		}
	}
	s.log.Warn("backup stream failed", "err", err)
	panic(http.ErrAbortHandler)
}
