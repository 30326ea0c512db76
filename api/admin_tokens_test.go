package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
)

type admTokenInfo struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	CreatedAt string   `json:"createdAt"`
}

// admCreateToken creates a token over the API and returns its secret.
func (e *env) admCreateToken(name string, scopes ...string) string {
	e.t.Helper()
	var out map[string]string
	e.admCall("POST", "/v1/tokens", adminToken, map[string]any{"name": name, "scopes": scopes}, http.StatusCreated, &out)
	if len(out) != 2 || out["name"] != name || out["token"] == "" {
		e.t.Fatalf("create token answered %v", out)
	}
	return out["token"]
}

func (e *env) admTokens() []admTokenInfo {
	e.t.Helper()
	var out struct {
		Tokens []admTokenInfo `json:"tokens"`
	}
	e.admCall("GET", "/v1/tokens", adminToken, nil, http.StatusOK, &out)
	return out.Tokens
}

func TestCreatedTokenWorksForItsScopesOnly(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	e.queue("other")
	reader := e.admCreateToken("reader", "read:orders")
	worker := e.admCreateToken("worker", "consume:orders", "consume:orders")
	boss := e.admCreateToken("boss", "admin")

	e.admCall("GET", "/v1/queues/orders", reader, nil, http.StatusOK, nil)
	e.admCall("GET", "/v1/queues/orders/messages", reader, nil, http.StatusOK, nil)
	e.admCall("GET", "/v1/queues/orders/next", worker, nil, http.StatusNoContent, nil)
	e.admCall("PUT", "/v1/queues/third", boss, nil, http.StatusCreated, nil)
	forbidden := []struct{ method, path, token string }{
		{"GET", "/v1/queues/other", reader}, {"PUT", "/v1/queues/orders", reader}, {"GET", "/v1/queues/orders/next", reader},
		{"POST", "/v1/tokens", reader}, {"GET", "/v1/tokens", reader},
		{"GET", "/v1/queues/orders", worker}, {"GET", "/v1/queues/other/next", worker}, {"DELETE", "/v1/queues/orders", worker},
	}
	for _, c := range forbidden {
		resp, body := e.do(c.method, c.path, c.token, `{"name":"x","scopes":["admin"]}`)
		expectError(t, resp, body, http.StatusForbidden, "forbidden")
	}

	// A taken name is a conflict and leaves the existing token alone.
	before := e.admTokens()
	resp, body := e.do("POST", "/v1/tokens", adminToken, `{"name":"reader","scopes":["admin"]}`)
	expectError(t, resp, body, http.StatusConflict, "conflict")
	if after := e.admTokens(); !reflect.DeepEqual(after, before) {
		t.Fatalf("tokens changed by a conflict: %+v", after)
	}
	e.admCall("GET", "/v1/queues/orders", reader, nil, http.StatusOK, nil)
	resp, body = e.do("PUT", "/v1/queues/orders", reader, nil)
	expectError(t, resp, body, http.StatusForbidden, "forbidden")

	_, raw := e.do("GET", "/v1/tokens", adminToken, nil)
	for _, sec := range []string{reader, worker, boss} {
		if strings.Contains(string(raw), sec) {
			t.Fatalf("token list shows a secret: %s", raw)
		}
	}
	var names []string
	for _, tk := range before {
		names = append(names, tk.Name)
		if !admIsUTC(tk.CreatedAt) {
			t.Fatalf("createdAt %q", tk.CreatedAt)
		}
		if tk.Name == "worker" && !reflect.DeepEqual(tk.Scopes, []string{"consume:orders"}) {
			t.Fatalf("worker scopes %v", tk.Scopes)
		}
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"boss", "reader", "worker"}) {
		t.Fatalf("token names %v", names)
	}
	var elem []map[string]json.RawMessage
	var wrap struct {
		Tokens *[]map[string]json.RawMessage `json:"tokens"`
	}
	wrap.Tokens = &elem
	if err := json.Unmarshal(raw, &wrap); err != nil || len(elem) != 3 || len(elem[0]) != 3 {
		t.Fatalf("token list shape %s", raw)
	}

	e.admCall("DELETE", "/v1/tokens/reader", adminToken, nil, http.StatusNoContent, nil)
	resp, body = e.do("GET", "/v1/queues/orders", reader, nil)
	expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	resp, body = e.do("DELETE", "/v1/tokens/reader", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
	if got := e.admTokens(); len(got) != 2 {
		t.Fatalf("tokens after delete %+v", got)
	}
	// The name is free again.
	e.admCreateToken("reader", "read:*")
}

func TestCreateTokenRejectsBadNamesAndScopes(t *testing.T) {
	e := newEnv(t)
	e.admCreateToken("keep", "read:*")
	before := e.admTokens()
	cases := []struct{ name, body, field string }{
		{"malformed JSON", `{"name":`, "malformed JSON"},
		{"empty body", ``, "JSON body"},
		{"unknown field", `{"name":"a","scopes":["admin"],"expires":"1h"}`, "expires"},
		{"bad name", `{"name":"no spaces","scopes":["admin"]}`, "name"},
		{"empty name", `{"scopes":["admin"]}`, "name"},
		{"no scopes", `{"name":"a"}`, "scopes"},
		{"empty scopes", `{"name":"a","scopes":[]}`, "scopes"},
		{"unknown scope", `{"name":"a","scopes":["root"]}`, "scopes[0]"},
		{"empty queue", `{"name":"a","scopes":["admin","read:"]}`, "scopes[1]"},
		{"bad queue", `{"name":"a","scopes":["consume:bad name"]}`, "scopes[0]"},
		{"unknown kind", `{"name":"a","scopes":["write:orders"]}`, "scopes[0]"},
		{"kind without queue", `{"name":"a","scopes":["publish"]}`, "scopes[0]"},
		{"admin with queue", `{"name":"a","scopes":["admin:orders"]}`, "scopes[0]"},
		{"scopes wrong type", `{"name":"a","scopes":"admin"}`, "scopes"},
	}
	for _, c := range cases {
		resp, body := e.do("POST", "/v1/tokens", adminToken, c.body)
		admExpect400(t, resp, body, c.field)
		if after := e.admTokens(); !reflect.DeepEqual(after, before) {
			t.Fatalf("%s: tokens changed: %+v", c.name, after)
		}
	}
	for _, c := range []struct{ method, path string }{{"POST", "/v1/tokens"}, {"GET", "/v1/tokens"}, {"DELETE", "/v1/tokens/keep"}} {
		resp, body := e.do(c.method, c.path, "", `{"name":"b","scopes":["admin"]}`)
		expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
		resp, body = e.do(c.method, c.path, "bogus", `{"name":"b","scopes":["admin"]}`)
		expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	}
	if after := e.admTokens(); !reflect.DeepEqual(after, before) {
		t.Fatalf("tokens changed by unauthenticated calls: %+v", after)
	}
}

func TestClusterDescribesTheNode(t *testing.T) {
	e := newRaftEnv(t)
	var c struct {
		Leader string                       `json:"leader"`
		Term   uint64                       `json:"term"`
		Nodes  []map[string]json.RawMessage `json:"nodes"`
	}
	e.admCall("GET", "/v1/cluster", adminToken, nil, http.StatusOK, &c)
	if c.Leader != "n1" || c.Term < 1 || len(c.Nodes) != 1 {
		t.Fatalf("cluster = %+v", c)
	}
	var keys []string
	for k := range c.Nodes[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"appliedIndex", "grpcAddr", "healthy", "httpAddr", "id", "raftAddr", "role", "suffrage"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("node keys %v, want %v", keys, want)
	}
	var n struct {
		ID, RaftAddr, Role, Suffrage string
		Healthy                      bool
		AppliedIndex                 uint64
	}
	raw, _ := json.Marshal(c.Nodes[0])
	if err := json.Unmarshal(raw, &n); err != nil {
		t.Fatal(err)
	}
	if n.ID != "n1" || !strings.Contains(n.RaftAddr, ":") || n.Role != "voter" || n.Suffrage != "voter" || !n.Healthy || n.AppliedIndex == 0 {
		t.Fatalf("node = %+v", n)
	}

	resp, body := e.do("GET", "/v1/cluster", "", nil)
	expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	resp, body = e.do("GET", "/v1/cluster", e.admToken("r", "read:*", "consume:*", "publish:*"), nil)
	expectError(t, resp, body, http.StatusForbidden, "forbidden")
}
