package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookq/hookq/internal/tlsutil"
)

// principal is an authenticated caller.
type principal struct {
	name   string
	scopes []string
	// node is set for the cluster and ingest keys: they are not tokens of
	// the API and pass only on the routes nodeRoutes lists.
	node bool
	// secret is a stored token's secret, kept so long-lived streams can
	// check that the token still exists (current); empty for the admin
	// token and the node keys, which hold for the life of the process.
	secret string
}

// can reports whether p holds scope kind for queue q ("admin" implies all).
func (p principal) can(kind, q string) bool {
	for _, sc := range p.scopes {
		if sc == "admin" || (kind != "admin" && (sc == kind+":*" || sc == kind+":"+q)) {
			return true
		}
	}
	return false
}

// nodeCred is a set of node credentials.
type nodeCred uint8

const (
	credCluster nodeCred = 1 << iota // --cluster-key (voters)
	credIngest                       // --ingest-key (ingest nodes)
)

// nodeRoutes are the only routes of this API a node credential opens, by
// mux pattern: a node joining with --join, and the leader discovery of
// ingest nodes (an ingest node that falls back to --cluster-key presents
// the cluster key there too). Everywhere else the keys are unknown bearers.
var nodeRoutes = map[string]nodeCred{
	"POST /v1/cluster/join": credCluster,
	"GET /v1/cluster":       credCluster | credIngest,
}

// secretIs compares in constant time; an empty key never matches.
func secretIs(got, key string) bool {
	return key != "" && subtle.ConstantTimeCompare([]byte(got), []byte(key)) == 1
}

// authenticate reads the bearer token: the admin token, a node key on the
// routes that accept one, or a token stored in the cluster.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return principal{}, errUnauthenticated
	}
	tok := strings.TrimSpace(h[len(prefix):])
	if secretIs(tok, s.cfg.AdminToken) {
		return principal{name: "admin-token", scopes: []string{"admin"}}, nil
	}
	// With cluster mutual TLS a node key is not enough on its own: the
	// caller must also have presented a client certificate of the cluster
	// CA, as every node does.
	if allowed := nodeRoutes[r.Pattern]; allowed != 0 && (!s.cfg.ClusterTLS || tlsutil.VerifiedPeer(r.TLS)) {
		if allowed&credCluster != 0 && secretIs(tok, s.cfg.ClusterKey) {
			return principal{name: "cluster-key", node: true}, nil
		}
		if allowed&credIngest != 0 && secretIs(tok, s.cfg.IngestKey) {
			return principal{name: "ingest-key", node: true}, nil
		}
	}
	return s.tokenPrincipal(tok)
}

// tokenPrincipal is the caller holding bearer token tok: the admin token
// or a token stored in the cluster (never a node key).
func (s *Server) tokenPrincipal(tok string) (principal, error) {
	if secretIs(tok, s.cfg.AdminToken) {
		return principal{name: "admin-token", scopes: []string{"admin"}}, nil
	}
	if tok == "" || s.auth == nil {
		return principal{}, errUnauthenticated
	}
	rec, ok := s.auth.Authenticate(tok)
	if !ok {
		return principal{}, errUnauthenticated
	}
	return principal{name: rec.Name, scopes: rec.Scopes, secret: tok}, nil
}

// authorize authenticates r and checks scope kind on queue q (q "" for
// admin); it writes the error and returns false when the caller may not.
// A node key passes here only on its routes (authenticate saw to that).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, kind, q string) (principal, bool) {
	p, err := s.authenticate(r)
	if err == nil && !p.node && !p.can(kind, q) {
		err = errForbidden
	}
	if err != nil {
		s.writeError(w, r, err)
		return p, false
	}
	return p, true
}

// consumer wraps a consumer handler: valid queue name, consume scope.
func (s *Server) consumer(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.PathValue("q")
		if _, ok := s.authorize(w, r, "consume", q); !ok {
			return
		}
		h(w, r, q)
	}
}

// errRevoked ends a stream whose token was deleted (or lost the scope).
var errRevoked = fmt.Errorf("%w: the token was revoked", errUnauthenticated)

// principalRecheck is how often a long-lived stream checks that its token
// still stands: the bound on how long a deleted token keeps a stream open
// (with the replication delay when it was deleted through another node).
const principalRecheck = time.Second

// current re-reads p's credential from the local (replicated) token
// table: ok is false once the token was deleted, on any node. The admin
// token and the node keys hold for the life of the process. It is the
// hook every long-lived stream uses (SSE today, gRPC streams later).
func (s *Server) current(p principal) (principal, bool) {
	if p.secret == "" {
		return p, true
	}
	rec, ok := s.auth.Authenticate(p.secret)
	if !ok || rec.Name != p.name {
		return principal{}, false
	}
	return principal{name: rec.Name, scopes: rec.Scopes, secret: p.secret}, true
}

// watchPrincipal returns a context that ends with cause errRevoked once p
// no longer holds scope kind on q, checked every principalRecheck; stop
// releases it.
func (s *Server) watchPrincipal(ctx context.Context, p principal, kind, q string) (_ context.Context, stop func()) {
	wctx, cancel := context.WithCancelCause(ctx)
	if p.secret == "" {
		return wctx, func() { cancel(nil) }
	}
	go func() {
		t := time.NewTicker(principalRecheck)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
			if cur, ok := s.current(p); !ok || !cur.can(kind, q) {
				cancel(errRevoked)
				return
			}
		}
	}()
	return wctx, func() { cancel(nil) }
}
