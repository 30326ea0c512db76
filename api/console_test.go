package api_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/ingest"
	"github.com/hookq/hookq/ingest/ingesttest"
)

func TestConsoleIsServedAt_ui(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ path, contentType, contains string }{
		{"/ui/", "text/html", `<script src="app.js"`},
		{"/ui/app.js", "javascript", "/v1/queues"},
		{"/ui/style.css", "text/css", "--accent"},
	} {
		resp, body := e.do("GET", c.path, "", nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), c.contentType) || !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: %d %s, %d bytes", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", c.path, csp)
		}
	}
	// Nothing in the console is loaded from elsewhere.
	for _, f := range []string{"/ui/", "/ui/app.js", "/ui/style.css"} {
		_, body := e.do("GET", f, "", nil)
		if bytes.Contains(body, []byte("http://")) || bytes.Contains(body, []byte("https://")) {
			t.Errorf("%s refers to another origin", f)
		}
	}
	resp, _ := e.do("GET", "/ui/missing.js", "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /ui/missing.js: %d, want 404", resp.StatusCode)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := noRedirect.Get(e.srv.URL + "/ui")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d Location %q, want 301 /ui/", r.StatusCode, r.Header.Get("Location"))
	}
}

// TestSourceTestWebhookIsSignedAndQueued: for every verification type the
// test endpoint signs a sample with the source's secret and it passes the
// normal ingest path into the source's queue.
func TestSourceTestWebhookIsSignedAndQueued(t *testing.T) {
	e := newEnv(t)
	e.queue("inbox")
	// Every verify.type: the sample is signed with the source's first
	// secret, the way SignRequest signs for the URL the ingest route sees
	// (hubspot, square and twilio sign it). The asymmetric presets hold a
	// public key, which cannot sign: 400.
	for _, typ := range ingest.Types() {
		t.Run(typ, func(t *testing.T) {
			signKey, verifyKey := ingesttest.Keys(t, typ)
			v := ingest.VerifyConfig{Type: typ}
			if verifyKey != "" {
				v.Secrets = []string{verifyKey}
			}
			if typ == ingest.TypeHMAC {
				v.Header, v.Algorithm, v.Encoding, v.Prefix = "X-Sig", "sha512", "base64", "v="
			}
			name := "src-" + typ
			e.source(name, ingest.SourceConfig{Queues: []string{"inbox"}, Verify: v})
			if signKey != verifyKey {
				resp, body := e.do("POST", "/v1/sources/"+name+"/test", adminToken, nil)
				expectError(t, resp, body, http.StatusBadRequest, "bad_request")
				return
			}
			var out struct {
				MessageID string `json:"messageId"`
				Duplicate bool   `json:"duplicate"`
			}
			e.admCall("POST", "/v1/sources/"+name+"/test", adminToken, nil, http.StatusAccepted, &out)
			if out.MessageID == "" || out.Duplicate {
				t.Fatalf("answer %+v", out)
			}
			m, body, err := e.b.Message("inbox", out.MessageID)
			if err != nil {
				t.Fatalf("test webhook not stored: %v", err)
			}
			var sample map[string]any
			if err := json.Unmarshal(body, &sample); err != nil || m.Source != name || (sample["type"] != "hookq.test" && !bytes.Contains(body, []byte("hookq_test_"))) {
				t.Fatalf("stored %s from %s: %v", body, m.Source, err)
			}
			hdr := map[string]string{}
			for _, h := range m.Headers {
				hdr[h.Name] = string(h.Value)
			}
			if hdr["X-Hookq-Test"] != "true" {
				t.Fatalf("headers %v lack X-Hookq-Test", hdr)
			}
			for _, secret := range v.Secrets {
				for k, val := range hdr {
					if strings.Contains(val, secret) {
						t.Fatalf("stored header %s holds the secret", k)
					}
				}
			}
			// A second test is a new event, never a duplicate.
			e.admCall("POST", "/v1/sources/"+name+"/test", adminToken, nil, http.StatusAccepted, &out)
		})
	}

	resp, body := e.do("POST", "/v1/sources/nope/test", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
	reader := e.admToken("reader", "read:*")
	resp, body = e.do("POST", "/v1/sources/src-none/test", reader, nil)
	expectError(t, resp, body, http.StatusForbidden, "forbidden")
	resp, body = e.do("POST", "/v1/sources/src-none/test", "", nil)
	expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
}

func TestSourceRejectionsByReason(t *testing.T) {
	e := newEnv(t)
	e.queue("inbox")
	v := ingest.VerifyConfig{Type: "github", Secrets: []string{"gh"}}
	e.source("gh", ingest.SourceConfig{Queues: []string{"inbox"}, Verify: v})
	e.source("quiet", ingest.SourceConfig{Queues: []string{"inbox"}, Verify: v})
	for range 2 {
		e.hookPost("gh", "", []byte(`{}`), hookSign(t, v, "wrong", []byte(`{}`), time.Now(), ""))
	}
	e.hookPost("gh", "", []byte(`{}`), nil)

	type counts struct {
		Source     string `json:"source"`
		Since      string `json:"since"`
		Rejections []struct {
			Reason string `json:"reason"`
			Count  int64  `json:"count"`
			LastAt string `json:"lastAt"`
		} `json:"rejections"`
	}
	var got counts
	e.admCall("GET", "/v1/sources/gh/rejections", adminToken, nil, http.StatusOK, &got)
	if got.Source != "gh" || !admIsUTC(got.Since) || len(got.Rejections) != 2 ||
		got.Rejections[0].Reason != "mismatch" || got.Rejections[0].Count != 2 ||
		got.Rejections[1].Reason != "missing_header" || got.Rejections[1].Count != 1 || !admIsUTC(got.Rejections[0].LastAt) {
		t.Fatalf("rejections of gh: %+v", got)
	}
	_, raw := e.do("GET", "/v1/sources/quiet/rejections", adminToken, nil)
	if !strings.Contains(string(raw), `"rejections":[]`) {
		t.Fatalf("rejections of quiet: %s", raw)
	}
	resp, body := e.do("GET", "/v1/sources/nope/rejections", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
}

// jsonLogLines parses every line of a JSON log.
func jsonLogLines(t *testing.T, text string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestEveryAdminWriteIsAudited: each admin write leaves one audit line
// naming who, what and the result, and no line holds a secret.
func TestEveryAdminWriteIsAudited(t *testing.T) {
	var logs syncBuffer
	b := brokertest.NewFake(t)
	e := &env{t: t, b: b}
	e.srv = httptest.NewUnstartedServer(nil)
	e.api = api.New(api.Config{HTTPAddr: e.srv.Listener.Addr().String(), AdminToken: adminToken,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, b)
	e.srv.Config.Handler = e.api
	e.srv.Start()
	t.Cleanup(e.srv.Close)

	var tok struct{ Token string }
	e.admCall("POST", "/v1/tokens", adminToken, map[string]any{"name": "ops", "scopes": []string{"admin"}}, http.StatusCreated, &tok)
	ops := tok.Token
	steps := []struct {
		method, path string
		body         any
		status       int
		action, who  string
	}{
		{"PUT", "/v1/queues/orders", map[string]any{}, 201, "queue.put", "ops"},
		{"PUT", "/v1/sources/shop", map[string]any{"queues": []string{"orders"}, "verify": map[string]any{"type": "github", "secrets": []string{"very-secret-1"}}}, 201, "source.put", "ops"},
		{"POST", "/v1/sources/shop/test", nil, 202, "source.test", "ops"},
		{"POST", "/v1/queues/orders/replay", map[string]any{}, 200, "queue.replay", "ops"},
		{"POST", "/v1/queues/orders.dlq/redrive", map[string]any{}, 200, "queue.redrive", "ops"},
		{"POST", "/v1/queues/orders/purge", nil, 200, "queue.purge", "ops"},
		{"DELETE", "/v1/sources/shop", nil, 204, "source.delete", "ops"},
		{"DELETE", "/v1/queues/orders", nil, 204, "queue.delete", "ops"},
		{"DELETE", "/v1/tokens/ops", nil, 204, "token.delete", "ops"},
		{"DELETE", "/v1/queues/gone", nil, 401, "queue.delete", "(unauthenticated)"},
	}
	for _, s := range steps {
		e.admCall(s.method, s.path, ops, s.body, s.status, nil)
	}
	var audits []map[string]any
	for _, l := range jsonLogLines(t, logs.String()) {
		for _, secret := range []string{ops, adminToken, "very-secret-1"} {
			for k, v := range l {
				if s, ok := v.(string); ok && strings.Contains(s, secret) {
					t.Errorf("log attribute %s holds a secret: %v", k, l)
				}
			}
		}
		if l["audit"] == true {
			audits = append(audits, l)
		}
	}
	if len(audits) != len(steps)+1 {
		t.Fatalf("%d audit lines for %d admin writes: %v", len(audits), len(steps)+1, audits)
	}
	if first := audits[0]; first["action"] != "token.create" || first["token"] != "ops" || first["who"] != "admin-token" || first["result"] != "ok" {
		t.Errorf("token creation audit %v", first)
	}
	for i, s := range steps {
		a := audits[i+1]
		wantResult := "ok"
		if s.status == 401 {
			wantResult = "unauthenticated"
		}
		if a["action"] != s.action || a["who"] != s.who || a["path"] != s.path || a["result"] != wantResult {
			t.Errorf("audit of %s %s: %v", s.method, s.path, a)
		}
	}
	if audits[4]["replayed"] != float64(1) || audits[6]["purged"] != float64(2) {
		t.Errorf("replay audit %v, purge audit %v: want replayed 1 (the test webhook), purged 2 (it and its replay)", audits[4], audits[6])
	}
}
