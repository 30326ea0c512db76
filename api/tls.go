package api

import (
	"fmt"
	"net/http"

	"github.com/hookq/hookq/internal/tlsutil"
)

// voterCertOK reports whether r may make a call only nodes make (joining):
// always without cluster mutual TLS; with it, only over a TLS connection
// whose client presented a voter certificate of the cluster CA (the
// listener's config verifies client certificates against that CA when
// given). A bearer alone, even the admin token, is not enough: a node
// that cannot speak Raft to the cluster must not be added to it. On
// refusal it writes 403.
func (s *Server) voterCertOK(w http.ResponseWriter, r *http.Request) bool {
	if !s.cfg.ClusterTLS || tlsutil.VoterPeer(r.TLS) {
		return true
	}
	s.writeError(w, r, fmt.Errorf("%w: mutual TLS is configured: this call needs a client certificate of the cluster CA valid for %q", errForbidden, tlsutil.ClusterServerName))
	return false
}
