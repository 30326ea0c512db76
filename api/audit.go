package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/hookq/hookq/internal/logging"
)

// auditedRoutes are the admin writes the audit log covers, by route
// pattern, with the action name the audit line gives.
var auditedRoutes = map[string]string{
	"PUT /v1/queues/{q}":                   "queue.put",
	"DELETE /v1/queues/{q}":                "queue.delete",
	"POST /v1/queues/{q}/replay":           "queue.replay",
	"POST /v1/queues/{q}/redrive":          "queue.redrive",
	"POST /v1/queues/{q}/purge":            "queue.purge",
	"PUT /v1/sources/{s}":                  "source.put",
	"DELETE /v1/sources/{s}":               "source.delete",
	"POST /v1/sources/{s}/test":            "source.test",
	"POST /v1/tokens":                      "token.create",
	"DELETE /v1/tokens/{name}":             "token.delete",
	"POST /v1/cluster/join":                "cluster.join",
	"DELETE /v1/cluster/nodes/{id}":        "cluster.remove",
	"POST /v1/cluster/transfer-leadership": "cluster.transfer-leadership",
}

// auditRecord collects what one audited request did: who (the token's
// name, never its secret), the error code it was answered with, and
// attributes the handler adds (a token's name, counts). Secrets and
// bodies never go in.
type auditRecord struct {
	mu    sync.Mutex
	who   string
	code  string
	attrs []any
}

type auditKey struct{}

// startAudit attaches an audit record to r when its route is audited.
func startAudit(r *http.Request, route string) (*http.Request, *auditRecord, string) {
	action, ok := auditedRoutes[route]
	if !ok {
		return r, nil, ""
	}
	rec := &auditRecord{}
	return r.WithContext(context.WithValue(r.Context(), auditKey{}, rec)), rec, action
}

func auditOf(ctx context.Context) *auditRecord {
	rec, _ := ctx.Value(auditKey{}).(*auditRecord)
	return rec
}

// auditWho records the caller of an audited request (authorize calls it).
func auditWho(r *http.Request, name string) {
	if rec := auditOf(r.Context()); rec != nil {
		rec.mu.Lock()
		rec.who = name
		rec.mu.Unlock()
	}
}

// auditAttr adds key=value to the audit line of r, if r is audited.
func auditAttr(r *http.Request, key string, value any) {
	if rec := auditOf(r.Context()); rec != nil {
		rec.mu.Lock()
		rec.attrs = append(rec.attrs, key, value)
		rec.mu.Unlock()
	}
}

// auditError records the error code an audited request was answered with.
func auditError(r *http.Request, code string) {
	if rec := auditOf(r.Context()); rec != nil {
		rec.mu.Lock()
		rec.code = code
		rec.mu.Unlock()
	}
}

// writeAudit logs the audit line of a finished request: audit=true,
// action, who, path, status, result ("ok" or the error code).
func (s *Server) writeAudit(r *http.Request, rec *auditRecord, action string, status string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	who := rec.who
	if who == "" {
		who = "(unauthenticated)"
	}
	result := "ok"
	if rec.code != "" {
		result = rec.code
	}
	attrs := append([]any{logging.AuditKey, true, "action", action, "who", who, "path", r.URL.Path,
		"status", status, "result", result, "remote", r.RemoteAddr}, rec.attrs...)
	level := slog.LevelInfo
	if result != "ok" {
		level = slog.LevelWarn
	}
	s.log.Log(r.Context(), level, "audit: "+action, attrs...)
}
