package api_test

import (
	"net/http"
	"regexp"
	"testing"
)

// Membership endpoints: auth, validation and not-found, with the cluster
// unchanged after every error. (Successful join/transfer/remove run against
// real processes in cmd/hookq.)
func TestClusterMembershipErrors(t *testing.T) {
	e := newRaftEnv(t)
	consume := e.admToken("c", "consume:*")
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"join without token", "POST", "/v1/cluster/join", "", map[string]string{"id": "n9", "raftAddr": "127.0.0.1:1"}, 401, "unauthenticated"},
		{"join with consume scope", "POST", "/v1/cluster/join", consume, map[string]string{"id": "n9", "raftAddr": "127.0.0.1:1"}, 403, "forbidden"},
		{"join malformed JSON", "POST", "/v1/cluster/join", adminToken, `{"id":`, 400, "bad_request"},
		{"join unknown field", "POST", "/v1/cluster/join", adminToken, `{"id":"n9","raftAddr":"x:1","bogus":1}`, 400, "bad_request"},
		{"join without raftAddr", "POST", "/v1/cluster/join", adminToken, map[string]string{"id": "n9"}, 400, "bad_request"},
		{"remove unknown node", "DELETE", "/v1/cluster/nodes/nope", adminToken, nil, 404, "not_found"},
		{"remove without token", "DELETE", "/v1/cluster/nodes/n1", "", nil, 401, "unauthenticated"},
		{"transfer with consume scope", "POST", "/v1/cluster/transfer-leadership", consume, nil, 403, "forbidden"},
		{"transfer with no other voter", "POST", "/v1/cluster/transfer-leadership", adminToken, nil, 503, "unavailable"},
	}
	before := clusterBody(t, e)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do(c.method, c.path, c.token, c.body)
			expectError(t, resp, body, c.status, c.code)
			if after := clusterBody(t, e); after != before {
				t.Fatalf("cluster changed after an error:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func clusterBody(t *testing.T, e *env) string {
	t.Helper()
	resp, body := e.do("GET", "/v1/cluster", adminToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/cluster: %d %s", resp.StatusCode, body)
	}
	// The applied index moves with unrelated background writes.
	return appliedIndexRE.ReplaceAllString(string(body), "")
}

var appliedIndexRE = regexp.MustCompile(`"appliedIndex":\d+`)
