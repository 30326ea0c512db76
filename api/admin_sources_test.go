package api_test

import (
	"bytes"
	"net/http"
	"testing"
)

type admSource struct {
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
	MaxBodyBytes int64  `json:"maxBodyBytes"`
	CreatedAt    string `json:"createdAt"`
}

const (
	admSecretA = "secret-alpha-0123456789"
	admSecretB = "secret-bravo-9876543210"
)

// admNoSecrets fails when a response body carries a source secret.
func admNoSecrets(t *testing.T, body []byte) {
	t.Helper()
	for _, s := range []string{admSecretA, admSecretB} {
		if bytes.Contains(body, []byte(s)) {
			t.Fatalf("secret %q in response %s", s, body)
		}
	}
	if bytes.Contains(body, []byte(`"secrets"`)) {
		t.Fatalf("secrets key in response %s", body)
	}
}

func TestPutSourceCreatesUpdatesAndNeverShowsSecrets(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	e.queue("audit")
	body := map[string]any{
		"queues": []string{"orders"},
		"verify": map[string]any{"type": "stripe", "secrets": []string{admSecretA, admSecretB}, "tolerance": "2m"},
	}
	var s admSource
	raw := e.admCall("PUT", "/v1/sources/stripe", adminToken, body, http.StatusCreated, &s)
	admNoSecrets(t, raw)
	if s.Name != "stripe" || len(s.Queues) != 1 || s.Queues[0] != "orders" || s.Verify.Type != "stripe" ||
		s.Verify.SecretCount != 2 || s.Verify.Tolerance != "2m0s" || s.Verify.Header != nil ||
		s.Dedup.Key != "provider" || s.Dedup.Window != "24h0m0s" || s.MaxBodyBytes != 1<<20 || !admIsUTC(s.CreatedAt) {
		t.Fatalf("created source = %+v", s)
	}

	// PUT replaces: hmac with its own settings, two queues.
	body = map[string]any{
		"queues": []string{"orders", "audit"},
		"verify": map[string]any{"type": "hmac", "secrets": []string{admSecretA}, "header": "X-Sig", "encoding": "base64", "prefix": "sha256="},
		"dedup":  map[string]any{"key": "header:X-Id", "window": "1h"}, "maxBodyBytes": 4096,
	}
	raw = e.admCall("PUT", "/v1/sources/stripe", adminToken, body, http.StatusOK, &s)
	admNoSecrets(t, raw)
	if len(s.Queues) != 2 || s.Verify.Type != "hmac" || s.Verify.SecretCount != 1 || s.Verify.Header == nil || *s.Verify.Header != "X-Sig" ||
		*s.Verify.Algorithm != "sha256" || *s.Verify.Encoding != "base64" || *s.Verify.Prefix != "sha256=" ||
		s.Dedup.Key != "header:X-Id" || s.Dedup.Window != "1h0m0s" || s.MaxBodyBytes != 4096 {
		t.Fatalf("updated source = %+v", s)
	}
	created := s.CreatedAt

	raw = e.admCall("GET", "/v1/sources/stripe", adminToken, nil, http.StatusOK, &s)
	admNoSecrets(t, raw)
	if s.Verify.SecretCount != 1 || s.CreatedAt != created {
		t.Fatalf("GET source = %+v", s)
	}
	e.admCall("PUT", "/v1/sources/plain", adminToken, `{"queues":["audit"],"verify":{"type":"none"}}`, http.StatusCreated, nil)
	var list struct {
		Sources []admSource `json:"sources"`
	}
	raw = e.admCall("GET", "/v1/sources", adminToken, nil, http.StatusOK, &list)
	admNoSecrets(t, raw)
	if len(list.Sources) != 2 || list.Sources[0].Name != "plain" || list.Sources[1].Name != "stripe" || list.Sources[0].Verify.SecretCount != 0 {
		t.Fatalf("source list = %+v", list.Sources)
	}
}

func TestSourceCreatedOverAPIVerifiesIngest(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	body := `{"queues":["orders"],"verify":{"type":"token","secrets":["` + admSecretA + `"]}}`
	e.admCall("PUT", "/v1/sources/shop", adminToken, body, http.StatusCreated, nil)
	resp, raw := e.do("POST", "/hooks/shop", "", `{}`, "X-Webhook-Token", "wrong")
	expectError(t, resp, raw, http.StatusUnauthorized, "signature_invalid")
	resp, raw = e.do("POST", "/hooks/shop", "", `{}`, "X-Webhook-Token", admSecretA)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest with the secret: %d %s", resp.StatusCode, raw)
	}
	if st := e.admGetQueue("orders").Stats; st.Ready != 1 {
		t.Fatalf("stats after ingest %+v", st)
	}
}

func TestPutSourceRejectsBadConfigNamingTheField(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	good := `{"queues":["orders"],"verify":{"type":"token","secrets":["` + admSecretA + `"]}}`
	e.admCall("PUT", "/v1/sources/shop", adminToken, good, http.StatusCreated, nil)
	_, before := e.do("GET", "/v1/sources/shop", adminToken, nil)
	cases := []struct{ name, body, field string }{
		{"malformed JSON", `{"queues":`, "malformed JSON"},
		{"empty body", ``, "JSON body"},
		{"unknown field", `{"queues":["orders"],"verify":{"type":"none"},"queue":"x"}`, "queue"},
		{"unknown verify field", `{"queues":["orders"],"verify":{"type":"none","secret":"x"}}`, "secret"},
		{"no queues", `{"verify":{"type":"none"}}`, "queues"},
		{"bad queue name", `{"queues":["no spaces"],"verify":{"type":"none"}}`, "queues[0]"},
		{"unknown queue", `{"queues":["orders","ghost"],"verify":{"type":"none"}}`, "queues[1]"},
		{"unknown verify type", `{"queues":["orders"],"verify":{"type":"rot13"}}`, "verify.type"},
		{"missing verify type", `{"queues":["orders"]}`, "verify.type"},
		{"missing secrets", `{"queues":["orders"],"verify":{"type":"github"}}`, "verify.secrets"},
		{"bad basic secret", `{"queues":["orders"],"verify":{"type":"basic","secrets":["nocolon"]}}`, "verify.secrets[0]"},
		{"hmac without header", `{"queues":["orders"],"verify":{"type":"hmac","secrets":["k"]}}`, "verify.header"},
		{"bad algorithm", `{"queues":["orders"],"verify":{"type":"hmac","secrets":["k"],"header":"X-S","algorithm":"md5"}}`, "verify.algorithm"},
		{"bad tolerance", `{"queues":["orders"],"verify":{"type":"slack","secrets":["k"],"tolerance":"soon"}}`, "verify.tolerance"},
		{"negative tolerance", `{"queues":["orders"],"verify":{"type":"slack","secrets":["k"],"tolerance":"-5s"}}`, "verify.tolerance"},
		{"bad dedup key", `{"queues":["orders"],"verify":{"type":"none"},"dedup":{"key":"cookie"}}`, "dedup.key"},
		{"bad dedup window", `{"queues":["orders"],"verify":{"type":"none"},"dedup":{"window":"1 day"}}`, "dedup.window"},
		{"negative maxBodyBytes", `{"queues":["orders"],"verify":{"type":"none"},"maxBodyBytes":-1}`, "maxBodyBytes"},
		{"maxBodyBytes wrong type", `{"queues":["orders"],"verify":{"type":"none"},"maxBodyBytes":"1MB"}`, "maxBodyBytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do("PUT", "/v1/sources/shop", adminToken, c.body)
			admExpect400(t, resp, body, c.field)
			admNoSecrets(t, body)
			if _, after := e.do("GET", "/v1/sources/shop", adminToken, nil); !bytes.Equal(after, before) {
				t.Fatalf("source changed on error: %s, was %s", after, before)
			}
			resp, body = e.do("PUT", "/v1/sources/fresh", adminToken, c.body)
			admExpect400(t, resp, body, c.field)
			resp, body = e.do("GET", "/v1/sources/fresh", adminToken, nil)
			expectError(t, resp, body, http.StatusNotFound, "not_found")
		})
	}
	for _, name := range []string{"-lead", "a%21b", "dot%2Fslash"} {
		resp, body := e.do("PUT", "/v1/sources/"+name, adminToken, good)
		expectError(t, resp, body, http.StatusBadRequest, "bad_request")
	}
	var list struct {
		Sources []admSource `json:"sources"`
	}
	e.admCall("GET", "/v1/sources", adminToken, nil, http.StatusOK, &list)
	if len(list.Sources) != 1 {
		t.Fatalf("sources after rejected PUTs: %+v", list.Sources)
	}
}

func TestSourceAuthAndNotFound(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	good := `{"queues":["orders"],"verify":{"type":"token","secrets":["` + admSecretA + `"]}}`
	e.admCall("PUT", "/v1/sources/shop", adminToken, good, http.StatusCreated, nil)
	_, before := e.do("GET", "/v1/sources/shop", adminToken, nil)
	reader := e.admToken("reader", "read:*", "consume:*", "publish:*")
	for _, c := range []struct{ method, path string }{
		{"PUT", "/v1/sources/shop"}, {"GET", "/v1/sources/shop"}, {"DELETE", "/v1/sources/shop"}, {"GET", "/v1/sources"},
	} {
		resp, body := e.do(c.method, c.path, "", `{"queues":["orders"],"verify":{"type":"none"}}`)
		expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
		resp, body = e.do(c.method, c.path, "bogus", `{"queues":["orders"],"verify":{"type":"none"}}`)
		expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
		resp, body = e.do(c.method, c.path, reader, `{"queues":["orders"],"verify":{"type":"none"}}`)
		expectError(t, resp, body, http.StatusForbidden, "forbidden")
	}
	if _, after := e.do("GET", "/v1/sources/shop", adminToken, nil); !bytes.Equal(after, before) {
		t.Fatalf("source changed by refused calls: %s", after)
	}

	resp, body := e.do("GET", "/v1/sources/ghost", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
	resp, body = e.do("DELETE", "/v1/sources/ghost", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")

	e.admCall("DELETE", "/v1/sources/shop", adminToken, nil, http.StatusNoContent, nil)
	resp, body = e.do("GET", "/v1/sources/shop", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
	resp, body = e.do("DELETE", "/v1/sources/shop", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
	resp, body = e.do("POST", "/hooks/shop", "", `{}`, "X-Webhook-Token", admSecretA)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
}

func TestDeletingAQueueDropsItFromSources(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	e.queue("audit")
	e.admCall("PUT", "/v1/sources/shop", adminToken, `{"queues":["orders","audit"],"verify":{"type":"none"}}`, http.StatusCreated, nil)
	e.admCall("DELETE", "/v1/queues/audit", adminToken, nil, http.StatusNoContent, nil)
	var s admSource
	e.admCall("GET", "/v1/sources/shop", adminToken, nil, http.StatusOK, &s)
	if len(s.Queues) != 1 || s.Queues[0] != "orders" {
		t.Fatalf("source queues after delete: %v", s.Queues)
	}
}
