package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/ingest"
	"github.com/hookq/hookq/ingest/ingesttest"
)

// TestEveryPresetAcceptsSignRequestThroughTheAPI: for every verify.type,
// a request signed by ingest.SignRequest for the source's real URL (what
// `hookq send --provider` sends) is stored through the HTTP API of a real
// Raft node — the URL the server reconstructs is the URL that was signed.
func TestEveryPresetAcceptsSignRequestThroughTheAPI(t *testing.T) {
	e := newRaftEnv(t)
	e.queue("q")
	for _, typ := range ingest.Types() {
		t.Run(typ, func(t *testing.T) {
			signKey, verifyKey := ingesttest.Keys(t, typ)
			cfg := ingesttest.Source(typ, verifyKey, "q")
			name := "p-" + typ
			e.source(name, cfg)
			body := ingesttest.Body(typ)
			s, err := ingest.SignRequest(&cfg, signKey, http.MethodPost, e.srv.URL+"/hooks/"+name+"?via=test", body, time.Now(), "evt-api-"+typ)
			if err != nil {
				t.Fatalf("SignRequest: %v", err)
			}
			req, err := http.NewRequest(http.MethodPost, s.URL, bytes.NewReader(s.Body))
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range s.Header {
				req.Header[k] = vs
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("POST signed %s: %d %s", typ, resp.StatusCode, out)
			}
		})
	}
}

// handshakeCase is one provider handshake sent through the API.
type handshakeCase struct {
	typ, method, query string
	secrets            []string
	header             []string
	body               string
	wantCT, wantBody   string
	wantHeader         [2]string
}

// TestHandshakesAnswerEndToEndAndStoreNothing: each provider's handshake
// is answered as the provider requires by a real Raft node, and the
// queue's counts do not move; a refused handshake is 401 and echoes
// nothing; GET on a preset without a GET handshake is the one 405.
func TestHandshakesAnswerEndToEndAndStoreNothing(t *testing.T) {
	e := newRaftEnv(t)
	e.queue("q")
	now := strconv.FormatInt(time.Now().Unix(), 10)
	zoomBody := `{"event":"endpoint.url_validation","payload":{"plainToken":"pt-123"}}`
	twitchTS := time.Now().UTC().Format(time.RFC3339Nano)
	twitchBody := `{"challenge":"twitch-challenge-1","subscription":{}}`
	dk := ed25519.NewKeyFromSeed([]byte("api-test-discord-seed-of-32-byte"))
	ping := `{"id":"ping","type":1}`
	cases := []handshakeCase{
		{typ: "meta", method: "GET", query: "?hub.mode=subscribe&hub.verify_token=vt&hub.challenge=1158201444", secrets: []string{"app", "verify_token:vt"},
			wantCT: "text/plain; charset=utf-8", wantBody: "1158201444"},
		{typ: "dropbox", method: "GET", query: "?challenge=dbx-ch", secrets: []string{"dbx"},
			wantCT: "text/plain; charset=utf-8", wantBody: "dbx-ch", wantHeader: [2]string{"X-Content-Type-Options", "nosniff"}},
		{typ: "okta", method: "GET", secrets: []string{"Bearer okta"}, header: []string{"X-Okta-Verification-Challenge", "okta-ch"},
			wantCT: "application/json", wantBody: `{"verification":"okta-ch"}`},
		{typ: "msgraph", method: "POST", query: "?validationToken=graph-token-1", secrets: []string{"cs"},
			wantCT: "text/plain; charset=utf-8", wantBody: "graph-token-1"},
		{typ: "zoom", method: "POST", secrets: []string{"zoom-secret"}, body: zoomBody,
			header: []string{"x-zm-request-timestamp", now, "x-zm-signature", "v0=" + hmacHex("zoom-secret", "v0:"+now+":"+zoomBody)},
			wantCT: "application/json", wantBody: `{"encryptedToken":"` + hmacHex("zoom-secret", "pt-123") + `","plainToken":"pt-123"}`},
		{typ: "twitch", method: "POST", secrets: []string{"tw-secret"}, body: twitchBody,
			header: []string{"Twitch-Eventsub-Message-Id", "m1", "Twitch-Eventsub-Message-Timestamp", twitchTS, "Twitch-Eventsub-Message-Type", "webhook_callback_verification",
				"Twitch-Eventsub-Message-Signature", "sha256=" + hmacHex("tw-secret", "m1"+twitchTS+twitchBody)},
			wantCT: "text/plain; charset=utf-8", wantBody: "twitch-challenge-1"},
		{typ: "discord", method: "POST", secrets: []string{hex.EncodeToString(dk.Public().(ed25519.PublicKey))}, body: ping,
			header: []string{"X-Signature-Timestamp", now, "X-Signature-Ed25519", hex.EncodeToString(ed25519.Sign(dk, []byte(now+ping)))},
			wantCT: "application/json", wantBody: `{"type":1}`},
		{typ: "asana", method: "POST", secrets: []string{"asana-known"}, header: []string{"X-Hook-Secret", "asana-known"},
			wantHeader: [2]string{"X-Hook-Secret", "asana-known"}},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			name := "hs-" + c.typ
			e.source(name, ingest.SourceConfig{Queues: []string{"q"}, Verify: ingest.VerifyConfig{Type: c.typ, Secrets: c.secrets}})
			before := e.consStats("q")
			resp, out := e.do(c.method, "/hooks/"+name+c.query, "", nilIfEmpty(c.body), c.header...)
			if resp.StatusCode != http.StatusOK || string(out) != c.wantBody {
				t.Fatalf("handshake = %d %q, want 200 %q", resp.StatusCode, out, c.wantBody)
			}
			if c.wantCT != "" && resp.Header.Get("Content-Type") != c.wantCT {
				t.Fatalf("content type %q, want %q", resp.Header.Get("Content-Type"), c.wantCT)
			}
			if c.wantHeader[0] != "" && resp.Header.Get(c.wantHeader[0]) != c.wantHeader[1] {
				t.Fatalf("%s = %q, want %q", c.wantHeader[0], resp.Header.Get(c.wantHeader[0]), c.wantHeader[1])
			}
			e.consUnchanged("q", before)
		})
	}

	t.Run("refused", func(t *testing.T) {
		before := e.consStats("q")
		resp, out := e.do("GET", "/hooks/hs-meta?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=leak-me", "", nil)
		expectError(t, resp, out, http.StatusUnauthorized, sigInvalid)
		if bytes.Contains(out, []byte("leak-me")) {
			t.Fatalf("refused handshake echoed the challenge: %s", out)
		}
		resp, out = e.do("POST", "/hooks/hs-asana", "", nil, "X-Hook-Secret", "attacker")
		expectError(t, resp, out, http.StatusUnauthorized, sigInvalid)
		e.consUnchanged("q", before)
	})

	t.Run("GET on a preset without a GET handshake is 405", func(t *testing.T) {
		for _, src := range []string{"hs-zoom", "hs-msgraph", "hs-asana"} {
			resp, out := e.do("GET", "/hooks/"+src+"?validationToken=x&challenge=y", "", nil)
			expectError(t, resp, out, http.StatusMethodNotAllowed, "method_not_allowed")
			if resp.Header.Get("Allow") != http.MethodPost {
				t.Fatalf("Allow = %q", resp.Header.Get("Allow"))
			}
		}
	})
}

// TestAsanaHandshakeCapturesTheSecretThroughRaft: an Asana source created
// without secrets takes X-Hook-Secret from the handshake through a
// replicated write; events signed with it are then stored, and a second
// handshake with another secret is refused and changes nothing.
func TestAsanaHandshakeCapturesTheSecretThroughRaft(t *testing.T) {
	e := newRaftEnv(t)
	e.queue("q")
	// Created through the admin API without secrets, as SOURCES.md says.
	if resp, out := e.do("PUT", "/v1/sources/asana", adminToken, `{"queues":["q"],"verify":{"type":"asana","secrets":[]}}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT asana source: %d %s", resp.StatusCode, out)
	}
	before := e.consStats("q")
	resp, out := e.do("POST", "/hooks/asana", "", nil, "X-Hook-Secret", "captured-secret")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Hook-Secret") != "captured-secret" {
		t.Fatalf("handshake = %d %q, X-Hook-Secret %q", resp.StatusCode, out, resp.Header.Get("X-Hook-Secret"))
	}
	e.consUnchanged("q", before)
	src, err := e.b.Source("asana")
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Verify.Secrets) != 1 || src.Verify.Secrets[0] != "captured-secret" {
		t.Fatalf("stored secrets %d, want the captured one", len(src.Verify.Secrets))
	}
	resp, out = e.do("POST", "/hooks/asana", "", nil, "X-Hook-Secret", "another")
	expectError(t, resp, out, http.StatusUnauthorized, sigInvalid)
	body := `{"events":[{"action":"added"}]}`
	resp, out = e.do("POST", "/hooks/asana", "", body, "X-Hook-Signature", hmacHex("captured-secret", body))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("event after capture: %d %s", resp.StatusCode, out)
	}
	if err := e.b.CaptureSourceSecret(context.Background(), "asana", "other"); err == nil {
		t.Fatal("CaptureSourceSecret replaced an existing secret")
	}
}

// TestRequestURLFollowsTheForwardingProxy: a signature over the public
// URL (https, the proxy's host) verifies when a proxy says so with
// X-Forwarded-Proto/-Host.
func TestRequestURLFollowsTheForwardingProxy(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.source("sq", ingest.SourceConfig{Queues: []string{"q"}, Verify: ingest.VerifyConfig{Type: "square", Secrets: []string{"sq-key"}}})
	body := `{"event_id":"sq-1"}`
	public := "https://hooks.example.com/hooks/sq"
	sig := base64.StdEncoding.EncodeToString(hmacRaw("sq-key", public+body))
	resp, out := e.do("POST", "/hooks/sq", "", body, "X-Square-Hmacsha256-Signature", sig)
	expectError(t, resp, out, http.StatusUnauthorized, sigInvalid)
	resp, out = e.do("POST", "/hooks/sq", "", body, "X-Square-Hmacsha256-Signature", sig, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "hooks.example.com")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("behind the proxy: %d %s", resp.StatusCode, out)
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func hmacRaw(key, msg string) []byte { return mac(sha256.New, []byte(key), msg) }

func hmacHex(key, msg string) string { return hex.EncodeToString(hmacRaw(key, msg)) }

// TestAsanaCaptureIsFirstWriteWins: two handshakes racing to hand a source
// without secrets different X-Hook-Secrets must not both succeed: the one
// committed first is the secret, the other is a conflict and changes
// nothing. (A check on the node's copy followed by a plain source write
// let both through, the last write winning, so a stranger's handshake
// right after Asana's replaced the secret Asana had just been answered
// with.)
func TestAsanaCaptureIsFirstWriteWins(t *testing.T) {
	e := newRaftEnv(t)
	e.queue("q")
	for i := range 10 {
		name := fmt.Sprintf("asana%d", i)
		e.source(name, ingest.SourceConfig{Queues: []string{"q"}, Verify: ingest.VerifyConfig{Type: "asana"}})
		secrets := []string{"first-" + name, "second-" + name}
		errs := make([]error, len(secrets))
		var wg sync.WaitGroup
		for j := range secrets {
			wg.Go(func() { errs[j] = e.b.CaptureSourceSecret(context.Background(), name, secrets[j]) })
		}
		wg.Wait()
		won := -1
		for j, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("%s: both captures succeeded", name)
			case err == nil:
				won = j
			case !errors.Is(err, broker.ErrSourceHasSecret):
				t.Fatalf("%s: capture %d: %v, want a conflict", name, j, err)
			}
		}
		if won < 0 {
			t.Fatalf("%s: no capture succeeded: %v", name, errs)
		}
		src, err := e.b.Source(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(src.Verify.Secrets) != 1 || src.Verify.Secrets[0] != secrets[won] {
			t.Fatalf("%s: stored secrets are not the one capture that succeeded", name)
		}
	}
}

// TestAsanaCaptureIsAudited: the handshake that stores a source's secret
// is a source write made without a token, so it leaves an audit line
// (source, result) like every admin write, and the line holds no secret;
// a refused capture is audited too.
func TestAsanaCaptureIsAudited(t *testing.T) {
	var logs syncBuffer
	b := brokertest.MustOpen(t)
	e := &env{t: t, b: b}
	e.srv = httptest.NewUnstartedServer(nil)
	e.api = api.New(api.Config{HTTPAddr: e.srv.Listener.Addr().String(), AdminToken: adminToken,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, b)
	e.srv.Config.Handler = e.api
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.queue("q")
	e.source("asana", ingest.SourceConfig{Queues: []string{"q"}, Verify: ingest.VerifyConfig{Type: "asana"}})
	if resp, out := e.do("POST", "/hooks/asana", "", nil, "X-Hook-Secret", "captured-secret-1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("handshake = %d %s", resp.StatusCode, out)
	}
	if strings.TrimSpace(logs.String()) == "" {
		t.Fatal("the capture left no log line")
	}
	var audits []map[string]any
	for _, l := range jsonLogLines(t, logs.String()) {
		if strings.Contains(fmt.Sprint(l), "captured-secret-1") {
			t.Errorf("log line holds the captured secret: %v", l)
		}
		if l["audit"] == true {
			audits = append(audits, l)
		}
	}
	if len(audits) != 1 {
		t.Fatalf("%d audit lines for one captured secret: %v", len(audits), audits)
	}
	if a := audits[0]; a["action"] != "source.capture-secret" || a["source"] != "asana" || a["result"] != "ok" || a["status"] != "200" {
		t.Errorf("capture audit %v", a)
	}
}
