package api_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/ingest"
)

// Issue #4 through the HTTP API: every verification type accepts what its
// provider signs and refuses everything else, storing nothing (docs/API.md §4.2).

// hookProvider is one source configuration and a request its provider
// would send. Every signed source lists two secrets and the provider signs
// with the second, so each accepted request also shows rotation.
type hookProvider struct {
	name        string // source and queue name
	verify      ingest.VerifyConfig
	secret      string // what the provider signs with (verify.Secrets[1])
	body        []byte
	contentType string
	eventID     string // passed to ingest.Sign
	viaQuery    bool   // token: send ?token= instead of the header
	extra       []string
	wantEventID string
}

// standardSecret is a Standard Webhooks secret: whsec_ + base64(key).
func standardSecret(key string) string {
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(key))
}

func hookProviders() []hookProvider {
	two := func(typ, old, cur string) ingest.VerifyConfig {
		return ingest.VerifyConfig{Type: typ, Secrets: []string{old, cur}}
	}
	hmacCfg := func(header, alg, enc, prefix string) ingest.VerifyConfig {
		v := two(ingest.TypeHMAC, "hmac-old", "hmac-current")
		v.Header, v.Algorithm, v.Encoding, v.Prefix = header, alg, enc, prefix
		return v
	}
	binary := []byte{0x00, 0xff, 0xfe, '\r', '\n', 0x80, 'h', 'i', 0x00}
	return []hookProvider{
		{name: "none", verify: ingest.VerifyConfig{Type: ingest.TypeNone},
			body: []byte("plain text, kept as is\r\n\ttrailing space "), contentType: "text/plain; charset=utf-8"},
		{name: "token-header", verify: two(ingest.TypeToken, "tok-old", "tok-current"), secret: "tok-current",
			body: []byte(`{"order":1}`), contentType: "application/json"},
		{name: "token-query", verify: two(ingest.TypeToken, "tok-old", "tok-current"), secret: "tok-current", viaQuery: true,
			body: []byte(`{"order":2}`), contentType: "application/json"},
		{name: "basic", verify: two(ingest.TypeBasic, "ops:old", "ops:cur:pass"), secret: "ops:cur:pass",
			body: []byte(`<xml a="1"/>`), contentType: "application/xml"},
		{name: "hmac-sha1-hex-prefix", verify: hmacCfg("X-Signature", "sha1", "hex", "sha1="), secret: "hmac-current",
			body: []byte(`{"a":1}`), contentType: "application/json"},
		{name: "hmac-sha256-base64", verify: hmacCfg("X-Body-Signature", "sha256", "base64", ""), secret: "hmac-current",
			body: binary, contentType: "application/octet-stream"},
		{name: "hmac-sha256-defaults", verify: hmacCfg("X-Sig", "", "", ""), secret: "hmac-current",
			body: []byte("k=v&x=%20y"), contentType: "application/x-www-form-urlencoded"},
		{name: "hmac-sha512-hex", verify: hmacCfg("X-Sig-512", "sha512", "hex", ""), secret: "hmac-current",
			body: []byte(`{"b":2}`), contentType: "application/json"},
		{name: "hmac-sha512-base64-prefix", verify: hmacCfg("X-Sig-512", "sha512", "base64", "v1="), secret: "hmac-current",
			body: []byte(`{"c":3}`), contentType: "application/json"},
		{name: "github", verify: two(ingest.TypeGitHub, "gh-old", "gh-current"), secret: "gh-current",
			body: []byte(`{"action":"opened","number":1}`), contentType: "application/json",
			eventID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", wantEventID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
			extra: []string{"X-GitHub-Event", "pull_request"}},
		{name: "stripe", verify: two(ingest.TypeStripe, "whsec_old", "whsec_current"), secret: "whsec_current",
			body:        []byte(`{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"invoice.paid"}`),
			contentType: "application/json; charset=utf-8", wantEventID: "evt_1NG8Du2eZvKYlo2CUI79vXWy"},
		{name: "shopify", verify: two(ingest.TypeShopify, "shp-old", "shp-current"), secret: "shp-current",
			body: []byte(`{"id":820982911946154500}`), contentType: "application/json",
			eventID: "98880550-7158-44d4-b7cd-2c97c8a091b5", wantEventID: "98880550-7158-44d4-b7cd-2c97c8a091b5",
			extra: []string{"X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}},
		{name: "shopify-webhook-id", verify: two(ingest.TypeShopify, "shp-old", "shp-current"), secret: "shp-current",
			body: []byte(`{"id":1}`), contentType: "application/json",
			extra: []string{"X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"}, wantEventID: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"},
		{name: "slack", verify: two(ingest.TypeSlack, "slk-old", "slk-current"), secret: "slk-current",
			body:        []byte(`{"type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"app_mention"}}`),
			contentType: "application/json", wantEventID: "Ev08MFMKH6"},
		{name: "standard", verify: two(ingest.TypeStandard, standardSecret("std-old-key"), standardSecret("std-current-key")),
			secret: standardSecret("std-current-key"), body: []byte(`{"type":"user.created"}`), contentType: "application/json",
			eventID: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", wantEventID: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
		{name: "standard-svix", verify: two(ingest.TypeStandard, standardSecret("std-old-key"), standardSecret("std-current-key")),
			secret: standardSecret("std-current-key"), body: []byte(`{"type":"user.deleted"}`), contentType: "application/json",
			eventID: "msg_svix_1", wantEventID: "msg_svix_1"},
	}
}

// request builds the provider's headers and query for body, signed at at
// with secret.
func (p hookProvider) request(t testing.TB, secret string, body []byte, at time.Time) (http.Header, string) {
	t.Helper()
	h := hookSign(t, p.verify, secret, body, at, p.eventID)
	if p.name == "standard-svix" {
		for _, n := range []string{"id", "timestamp", "signature"} {
			h.Set("svix-"+n, h.Get("webhook-"+n))
			h.Del("webhook-" + n)
		}
	}
	query := ""
	if p.viaQuery {
		query = "?token=" + h.Get(ingest.HeaderToken)
		h.Del(ingest.HeaderToken)
	}
	h.Set("Content-Type", p.contentType)
	h.Set("X-Custom", "kept")
	h.Add("X-Multi", "a")
	h.Add("X-Multi", "b")
	for i := 0; i+1 < len(p.extra); i += 2 {
		h.Set(p.extra[i], p.extra[i+1])
	}
	return h, query
}

// hookFor is e with t as the test to fail (for subtests).
func (e *env) hookFor(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

func TestHookSignedRequestIsStoredExactlyForEveryProvider(t *testing.T) {
	e := newEnv(t)
	for _, p := range hookProviders() {
		t.Run(p.name, func(t *testing.T) {
			e := e.hookFor(t)
			e.hookPipe(p.name, ingest.SourceConfig{Verify: p.verify})
			h, query := p.request(t, p.secret, p.body, time.Now())
			resp, out := e.hookPost(p.name, query, p.body, h)
			reply := e.hookCheckReply(resp, out, false)

			got := e.hookNext(p.name)
			if !bytes.Equal(got.body, p.body) {
				t.Fatalf("stored body = %q, want %q", got.body, p.body)
			}
			if got.contentType != p.contentType {
				t.Fatalf("content type = %q, want %q", got.contentType, p.contentType)
			}
			m := got.meta
			if m.MessageID != reply.MessageID || m.Source != p.name || m.Queue != p.name || m.EventID != p.wantEventID {
				t.Fatalf("meta = %+v, want messageId %s, eventId %q", m, reply.MessageID, p.wantEventID)
			}
			for name, vs := range h {
				want := strings.Join(vs, ", ")
				if name == "Authorization" || name == "X-Webhook-Token" {
					if v, ok := m.Headers[name]; ok {
						t.Fatalf("credential header %s stored: %q", name, v)
					}
					continue
				}
				if m.Headers[name] != want {
					t.Fatalf("stored header %s = %q, want %q (all: %v)", name, m.Headers[name], want, m.Headers)
				}
			}
			if n := e.hookEnqueued(p.name); n != 1 {
				t.Fatalf("enqueued = %d, want 1", n)
			}
		})
	}
}

func TestHookAnySecretInTheListPasses(t *testing.T) {
	e := newEnv(t)
	for _, p := range hookProviders() {
		if p.verify.Type == ingest.TypeNone {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			e := e.hookFor(t)
			e.hookPipe(p.name, ingest.SourceConfig{Verify: p.verify, Dedup: ingest.DedupConfig{Key: "none"}})
			for _, secret := range p.verify.Secrets {
				h, query := p.request(t, secret, p.body, time.Now())
				resp, out := e.hookPost(p.name, query, p.body, h)
				e.hookCheckReply(resp, out, false)
			}
			retired := p.verify.Secrets[0] + "-retired"
			if p.verify.Type == ingest.TypeBasic {
				retired = "ops:retired"
			} else if p.verify.Type == ingest.TypeStandard {
				retired = standardSecret("std-retired-key")
			}
			h, query := p.request(t, retired, p.body, time.Now())
			resp, out := e.hookPost(p.name, query, p.body, h)
			expectError(t, resp, out, http.StatusUnauthorized, "signature_invalid")
			if n := e.hookEnqueued(p.name); n != 2 {
				t.Fatalf("enqueued = %d, want 2 (one per listed secret)", n)
			}
		})
	}
}

// hookBad is a request its source must refuse.
type hookBad struct {
	name   string
	body   []byte
	h      http.Header
	query  string
	code   string
	reason string
}

const (
	sigInvalid = "signature_invalid"
	outOfWin   = "timestamp_out_of_window"
)

// badRequests lists, for provider p, requests that must be refused: a
// tampered body, a wrong secret, a missing or malformed header and, for
// timed types, stale and future timestamps.
func badRequests(t testing.TB, p hookProvider) []hookBad {
	now := time.Now()
	good, query := p.request(t, p.secret, p.body, now)
	tampered := append(bytes.Clone(p.body), ' ')
	wrongSecret := "not-the-secret"
	if p.verify.Type == ingest.TypeBasic {
		wrongSecret = "ops:wrong"
	} else if p.verify.Type == ingest.TypeStandard {
		wrongSecret = standardSecret("wrong-key")
	}
	wrong, wrongQuery := p.request(t, wrongSecret, p.body, now)
	out := []hookBad{{name: "wrong-secret", body: p.body, h: wrong, query: wrongQuery, code: sigInvalid, reason: ingest.ReasonMismatch}}
	if p.verify.Type != ingest.TypeToken && p.verify.Type != ingest.TypeBasic {
		out = append(out, hookBad{name: "tampered-body", body: tampered, h: good, code: sigInvalid, reason: ingest.ReasonMismatch})
	}
	missing := func(name string, headers ...string) {
		h := good
		for _, n := range headers {
			h = hookWith(h, n, "")
		}
		out = append(out, hookBad{name: name, body: p.body, h: h, code: sigInvalid, reason: ingest.ReasonMissingHeader})
	}
	malformed := func(name, header, value string) {
		out = append(out, hookBad{name: name, body: p.body, h: hookWith(good, header, value), code: sigInvalid, reason: ingest.ReasonMalformedHeader})
	}
	timed := func() {
		for _, c := range []struct {
			name   string
			at     time.Time
			reason string
		}{{"stale-timestamp", now.Add(-10 * time.Minute), ingest.ReasonStale}, {"future-timestamp", now.Add(10 * time.Minute), ingest.ReasonFuture}} {
			h, _ := p.request(t, p.secret, p.body, c.at)
			out = append(out, hookBad{name: c.name, body: p.body, h: h, code: outOfWin, reason: c.reason})
			h, _ = p.request(t, wrongSecret, p.body, c.at)
			out = append(out, hookBad{name: c.name + "-wrong-secret", body: p.body, h: h, code: sigInvalid, reason: ingest.ReasonMismatch})
		}
	}
	switch p.verify.Type {
	case ingest.TypeToken:
		if query != "" {
			missing("missing-token")
		} else {
			missing("missing-header", ingest.HeaderToken)
		}
	case ingest.TypeBasic:
		missing("missing-header", "Authorization")
		malformed("bearer-scheme", "Authorization", "Bearer ops:cur:pass")
		malformed("not-base64", "Authorization", "Basic ops:cur:pass")
	case ingest.TypeHMAC:
		missing("missing-header", p.verify.Header)
		malformed("not-encoded", p.verify.Header, p.verify.Prefix+"!!not-an-encoding!!")
		if p.verify.Prefix != "" {
			malformed("without-prefix", p.verify.Header, strings.TrimPrefix(good.Get(p.verify.Header), p.verify.Prefix))
		}
	case ingest.TypeGitHub:
		missing("missing-header", ingest.HeaderGitHubSignature)
		malformed("sha1-scheme", ingest.HeaderGitHubSignature, "sha1="+strings.TrimPrefix(good.Get(ingest.HeaderGitHubSignature), "sha256="))
		malformed("not-hex", ingest.HeaderGitHubSignature, "sha256=xyz")
	case ingest.TypeStripe:
		missing("missing-header", ingest.HeaderStripeSignature)
		malformed("no-timestamp", ingest.HeaderStripeSignature, "v1="+strings.SplitN(good.Get(ingest.HeaderStripeSignature), "v1=", 2)[1])
		malformed("garbage", ingest.HeaderStripeSignature, "garbage")
		timed()
	case ingest.TypeShopify:
		missing("missing-header", ingest.HeaderShopifyHMAC)
		malformed("not-base64", ingest.HeaderShopifyHMAC, "not base64!")
	case ingest.TypeSlack:
		missing("missing-signature", ingest.HeaderSlackSignature)
		missing("missing-timestamp", ingest.HeaderSlackTimestamp)
		malformed("v1-scheme", ingest.HeaderSlackSignature, "v1="+strings.TrimPrefix(good.Get(ingest.HeaderSlackSignature), "v0="))
		malformed("timestamp-not-a-number", ingest.HeaderSlackTimestamp, "12e8")
		timed()
	case ingest.TypeStandard:
		sig, id, ts := "webhook-signature", "webhook-id", "webhook-timestamp"
		if good.Get(sig) == "" {
			sig, id, ts = "svix-signature", "svix-id", "svix-timestamp"
		}
		missing("missing-signature", sig)
		missing("missing-id", id)
		missing("missing-timestamp", ts)
		malformed("unknown-version", sig, "v2,"+strings.TrimPrefix(good.Get(sig), "v1,"))
		malformed("timestamp-not-a-number", ts, "soon")
		timed()
	}
	return out
}

func TestHookRefusesBadSignaturesAndStoresNothing(t *testing.T) {
	e := newEnv(t)
	for _, p := range hookProviders() {
		if p.verify.Type == ingest.TypeNone {
			continue
		}
		for _, c := range badRequests(t, p) {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				e := e.hookFor(t)
				name := p.name + "-" + c.name
				e.hookPipe(name, ingest.SourceConfig{Verify: p.verify})
				resp, out := e.hookPost(name, c.query, c.body, c.h)
				expectError(t, resp, out, http.StatusUnauthorized, c.code)
				if bytes.Contains(out, []byte(p.secret)) {
					t.Fatalf("error body %s echoes the secret", out)
				}
				if n := e.hookEnqueued(name); n != 0 {
					t.Fatalf("enqueued = %d, want 0", n)
				}
				e.hookExpectEmpty(name)
				if got := e.hookRejected(name, c.reason); got != 1 {
					t.Fatalf("hookq_ingest_rejections_total{source=%q,reason=%q} = %v, want 1", name, c.reason, got)
				}
				if got := e.hookMetric("hookq_ingest_requests_total", map[string]string{"source": name, "code": "202"}); got != 0 {
					t.Fatalf("accepted counter = %v, want 0", got)
				}
			})
		}
	}
}

func TestHookBodyOverMaxBodyBytesIs413AndNothingStored(t *testing.T) {
	e := newEnv(t)
	const limit = 64
	atLimit := bytes.Repeat([]byte("a"), limit)
	over := bytes.Repeat([]byte("b"), limit+1)
	gh := ingest.VerifyConfig{Type: ingest.TypeGitHub, Secrets: []string{"gh-secret"}}
	cases := []struct {
		name    string
		verify  ingest.VerifyConfig
		body    []byte
		chunked bool
		want    int
	}{
		{"content-length-at-limit-accepted", ingest.VerifyConfig{Type: "none"}, atLimit, false, http.StatusAccepted},
		{"content-length-over-limit", ingest.VerifyConfig{Type: "none"}, over, false, http.StatusRequestEntityTooLarge},
		{"chunked-at-limit-accepted", ingest.VerifyConfig{Type: "none"}, atLimit, true, http.StatusAccepted},
		{"chunked-over-limit", ingest.VerifyConfig{Type: "none"}, over, true, http.StatusRequestEntityTooLarge},
		{"signed-over-limit", gh, over, false, http.StatusRequestEntityTooLarge},
		{"chunked-far-over-limit-on-signed-source", gh, bytes.Repeat([]byte("c"), 10*limit), true, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.hookFor(t)
			e.hookPipe(c.name, ingest.SourceConfig{Verify: c.verify, MaxBodyBytes: limit})
			var resp *http.Response
			var out []byte
			if c.chunked {
				resp, out = e.hookChunked("/hooks/"+c.name, c.body)
			} else {
				resp, out = e.hookPost(c.name, "", c.body, hookSign(t, c.verify, "gh-secret", c.body, time.Now(), ""))
			}
			var wantStored int64
			if c.want == http.StatusAccepted {
				if resp.StatusCode != c.want {
					t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, c.want, out)
				}
				if got := e.hookNext(c.name); !bytes.Equal(got.body, c.body) {
					t.Fatalf("stored body = %q, want %q", got.body, c.body)
				}
				wantStored = 1
			} else {
				expectError(t, resp, out, c.want, "payload_too_large")
				e.hookExpectEmpty(c.name)
				if got := e.hookRejected(c.name, "too_large"); got != 1 {
					t.Fatalf("rejected{reason=too_large} = %v, want 1", got)
				}
			}
			if n := e.hookEnqueued(c.name); n != wantStored {
				t.Fatalf("enqueued = %d, want %d", n, wantStored)
			}
		})
	}
}

func TestHookUnknownSourceIs404(t *testing.T) {
	e := newEnv(t)
	e.hookPipe("gone", ingest.SourceConfig{Verify: ingest.VerifyConfig{Type: "none"}})
	if err := e.b.DeleteSource(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"never-created", "gone"} {
		t.Run(name, func(t *testing.T) {
			e := e.hookFor(t)
			resp, out := e.hookPost(name, "", []byte(`{}`), hookHeader("Content-Type", "application/json"))
			expectError(t, resp, out, http.StatusNotFound, "not_found")
		})
	}
	if n := e.hookEnqueued("gone"); n != 0 {
		t.Fatalf("enqueued = %d after posting to a deleted source", n)
	}
}

func TestHookSlackURLVerificationAnswersChallengeWithoutEnqueueing(t *testing.T) {
	e := newEnv(t)
	const challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
	body := []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"` + challenge + `","type":"url_verification"}`)
	v := ingest.VerifyConfig{Type: ingest.TypeSlack, Secrets: []string{"slack-signing-secret"}}
	now := time.Now()
	cases := []struct {
		name   string
		h      http.Header
		status int
		code   string
		reason string
	}{
		{"signed", hookSign(t, v, "slack-signing-secret", body, now, ""), http.StatusOK, "", ""},
		{"wrong-secret", hookSign(t, v, "other-secret", body, now, ""), http.StatusUnauthorized, sigInvalid, ingest.ReasonMismatch},
		{"unsigned", hookHeader("Content-Type", "application/json"), http.StatusUnauthorized, sigInvalid, ingest.ReasonMissingHeader},
		{"stale", hookSign(t, v, "slack-signing-secret", body, now.Add(-time.Hour), ""), http.StatusUnauthorized, outOfWin, ingest.ReasonStale},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.hookFor(t)
			name := "slack-" + c.name
			e.hookPipe(name, ingest.SourceConfig{Verify: v})
			resp, out := e.hookPost(name, "", body, c.h)
			if c.status == http.StatusOK {
				if resp.StatusCode != http.StatusOK || string(out) != challenge {
					t.Fatalf("handshake = %d %q, want 200 %q", resp.StatusCode, out, challenge)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Fatalf("content type = %q, want text/plain", ct)
				}
			} else {
				expectError(t, resp, out, c.status, c.code)
				if bytes.Contains(out, []byte(challenge)) {
					t.Fatalf("refused handshake echoed the challenge: %s", out)
				}
				if got := e.hookRejected(name, c.reason); got != 1 {
					t.Fatalf("rejected{reason=%s} = %v, want 1", c.reason, got)
				}
			}
			if n := e.hookEnqueued(name); n != 0 {
				t.Fatalf("enqueued = %d, want 0: a handshake is never a message", n)
			}
			e.hookExpectEmpty(name)
		})
	}
}

func TestHookFanOutPutsTheSameMessageInEveryQueue(t *testing.T) {
	e := newEnv(t)
	e.queue("fan-a")
	e.queue("fan-b")
	v := ingest.VerifyConfig{Type: ingest.TypeGitHub, Secrets: []string{"gh"}}
	e.source("fan", ingest.SourceConfig{Queues: []string{"fan-a", "fan-b"}, Verify: v})
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	h := hookWith(hookSign(t, v, "gh", body, time.Now(), "delivery-fan-1"), "Content-Type", "application/json")
	first := e.hookOK("fan", body, h, false)
	for _, q := range []string{"fan-a", "fan-b"} {
		got := e.hookNext(q)
		if got.meta.MessageID != first.MessageID || got.meta.Queue != q || got.meta.EventID != "delivery-fan-1" || !bytes.Equal(got.body, body) {
			t.Fatalf("%s: meta %+v body %q, want messageId %s", q, got.meta, got.body, first.MessageID)
		}
		e.hookExpectEmpty(q)
	}
	dup := e.hookOK("fan", body, h, true)
	if dup.MessageID != first.MessageID {
		t.Fatalf("duplicate messageId = %s, want %s", dup.MessageID, first.MessageID)
	}
	for _, q := range []string{"fan-a", "fan-b"} {
		if n := e.hookEnqueued(q); n != 1 {
			t.Fatalf("%s: enqueued = %d, want 1", q, n)
		}
	}
}

func TestHookDoesNotStoreCredentials(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		verify ingest.VerifyConfig
		secret string
		query  bool
	}{
		{"token-header", ingest.VerifyConfig{Type: ingest.TypeToken, Secrets: []string{"t0ken"}}, "t0ken", false},
		{"token-query", ingest.VerifyConfig{Type: ingest.TypeToken, Secrets: []string{"t0ken"}}, "t0ken", true},
		{"basic", ingest.VerifyConfig{Type: ingest.TypeBasic, Secrets: []string{"user:s3cret"}}, "user:s3cret", false},
		{"gitlab", ingest.VerifyConfig{Type: ingest.TypeGitLab, Secrets: []string{"gl-t0ken"}}, "gl-t0ken", false},
		{"okta", ingest.VerifyConfig{Type: ingest.TypeOkta, Secrets: []string{"Bearer okta-s3cret"}}, "Bearer okta-s3cret", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.hookFor(t)
			e.hookPipe(c.name, ingest.SourceConfig{Verify: c.verify})
			h := hookWith(hookSign(t, c.verify, c.secret, nil, time.Now(), ""), "X-Keep", "yes")
			query := ""
			if c.query {
				query = "?token=" + c.secret
				h.Del(ingest.HeaderToken)
			}
			resp, out := e.hookPost(c.name, query, []byte("x"), h)
			e.hookCheckReply(resp, out, false)
			m := e.hookNext(c.name).meta
			for _, n := range []string{"Authorization", "X-Webhook-Token"} {
				if v, ok := m.Headers[n]; ok {
					t.Fatalf("stored header %s = %q: credentials must not be stored", n, v)
				}
			}
			if m.Headers["X-Keep"] != "yes" {
				t.Fatalf("other headers lost: %v", m.Headers)
			}
			for n, v := range m.Headers {
				if strings.Contains(v, c.secret) || strings.Contains(v, base64.StdEncoding.EncodeToString([]byte(c.secret))) {
					t.Fatalf("stored header %s carries the secret", n)
				}
			}
		})
	}
}

func TestHookHonoursTheSourceTolerance(t *testing.T) {
	e := newEnv(t)
	for _, p := range hookProviders() {
		switch p.verify.Type {
		case ingest.TypeStripe, ingest.TypeSlack, ingest.TypeStandard:
		default:
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			e := e.hookFor(t)
			v := p.verify
			v.Tolerance = time.Minute
			e.hookPipe(p.name, ingest.SourceConfig{Verify: v, Dedup: ingest.DedupConfig{Key: "none"}})
			// Inside the default 300s but outside the source's 60s.
			for _, at := range []time.Time{time.Now().Add(-2 * time.Minute), time.Now().Add(2 * time.Minute)} {
				h, _ := p.request(t, p.secret, p.body, at)
				resp, out := e.hookPost(p.name, "", p.body, h)
				expectError(t, resp, out, http.StatusUnauthorized, outOfWin)
			}
			h, _ := p.request(t, p.secret, p.body, time.Now().Add(-30*time.Second))
			e.hookOK(p.name, p.body, h, false)
			if n := e.hookEnqueued(p.name); n != 1 {
				t.Fatalf("enqueued = %d, want 1", n)
			}
		})
	}
}
