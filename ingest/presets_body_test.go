package ingest

import (
	"crypto/sha1"
	"crypto/sha256"
	"net/http"
	"testing"
	"time"
)

// presetVector is one provider's test vector, computed here from the
// provider's documented algorithm (independently of bodyPresets): sign
// returns the headers the provider would send for body under secret.
type presetVector struct {
	typ    string
	body   string
	sign   func(secret, body string) http.Header
	wantID string
}

const presetSecret = "preset-secret-0123456789"

func bodyPresetVectors() []presetVector {
	return []presetVector{
		{typ: "gitlab", body: `{"object_kind":"push"}`, wantID: "a7c1-uuid",
			sign: func(s, _ string) http.Header { return hdr("X-Gitlab-Token", s, "X-Gitlab-Event-UUID", "a7c1-uuid") }},
		{typ: "gitea", body: `{"ref":"refs/heads/main"}`, wantID: "gitea-del-1",
			sign: func(s, b string) http.Header {
				return hdr("X-Gitea-Signature", macHex(sha256.New, s, b), "X-Gitea-Delivery", "gitea-del-1")
			}},
		{typ: "bitbucket", body: `{"push":{}}`, wantID: "bb-req-1",
			sign: func(s, b string) http.Header {
				return hdr("X-Hub-Signature", "sha256="+macHex(sha256.New, s, b), "X-Request-UUID", "bb-req-1")
			}},
		{typ: "intercom", body: `{"type":"notification_event","id":"notif_1"}`, wantID: "notif_1",
			sign: func(s, b string) http.Header { return hdr("X-Hub-Signature", "sha1="+macHex(sha1.New, s, b)) }},
		{typ: "segment", body: `{"type":"track","messageId":"ajs-1"}`, wantID: "ajs-1",
			sign: func(s, b string) http.Header { return hdr("X-Signature", macHex(sha1.New, s, b)) }},
		{typ: "vercel", body: `{"id":"evt_vercel_1","type":"deployment.created"}`, wantID: "evt_vercel_1",
			sign: func(s, b string) http.Header { return hdr("x-vercel-signature", macHex(sha1.New, s, b)) }},
		{typ: "sentry", body: `{"action":"created"}`, wantID: "sentry-req-1",
			sign: func(s, b string) http.Header {
				return hdr("Sentry-Hook-Signature", macHex(sha256.New, s, b), "Request-ID", "sentry-req-1")
			}},
		{typ: "lemonsqueezy", body: `{"meta":{"event_name":"order_created"}}`,
			sign: func(s, b string) http.Header { return hdr("X-Signature", macHex(sha256.New, s, b)) }},
		{typ: "woocommerce", body: `{"id":42}`, wantID: "wc-del-9",
			sign: func(s, b string) http.Header {
				return hdr("X-WC-Webhook-Signature", macB64(sha256.New, s, b), "X-WC-Webhook-Delivery-ID", "wc-del-9")
			}},
		{typ: "razorpay", body: `{"event":"payment.captured"}`, wantID: "rzp-evt-1",
			sign: func(s, b string) http.Header {
				return hdr("X-Razorpay-Signature", macHex(sha256.New, s, b), "x-razorpay-event-id", "rzp-evt-1")
			}},
		{typ: "typeform", body: `{"event_id":"01TF","event_type":"form_response"}`, wantID: "01TF",
			sign: func(s, b string) http.Header { return hdr("Typeform-Signature", "sha256="+macB64(sha256.New, s, b)) }},
		{typ: "launchdarkly", body: `{"_id":"ld-1","kind":"flag"}`, wantID: "ld-1",
			sign: func(s, b string) http.Header { return hdr("X-LD-Signature", macHex(sha256.New, s, b)) }},
		{typ: "pagerduty", body: `{"event":{"id":"pd-evt-1","event_type":"incident.triggered"}}`, wantID: "pd-evt-1",
			sign: func(s, b string) http.Header {
				// Two signatures, as during rotation: one for another secret.
				return hdr("X-PagerDuty-Signature", "v1="+macHex(sha256.New, "old", b)+",v1="+macHex(sha256.New, s, b))
			}},
		{typ: "circleci", body: `{"id":"cci-1","type":"workflow-completed"}`, wantID: "cci-1",
			sign: func(s, b string) http.Header {
				return hdr("circleci-signature", "v2=ignored,v1="+macHex(sha256.New, s, b))
			}},
		{typ: "docusign", body: `{"event":"envelope-completed"}`,
			sign: func(s, b string) http.Header {
				// Key rotation: the matching MAC is in the second header.
				return hdr("X-DocuSign-Signature-1", macB64(sha256.New, "other", b), "X-DocuSign-Signature-2", macB64(sha256.New, s, b))
			}},
	}
}

// TestBodyPresetsAcceptTheirProviderSignature: each body preset accepts a
// request signed as its provider documents, with a second (rotated-out)
// secret configured too, and extracts the provider's event id.
func TestBodyPresetsAcceptTheirProviderSignature(t *testing.T) {
	for _, v := range bodyPresetVectors() {
		t.Run(v.typ, func(t *testing.T) {
			cfg := presetCfg(t, v.typ, "rotated-out-secret", presetSecret)
			res, err := Verify(cfg, Request{Header: v.sign(presetSecret, v.body), Body: []byte(v.body)}, testNow)
			if err != nil {
				t.Fatalf("Verify refused the provider's signature: %v", err)
			}
			if res.EventID != v.wantID || res.DedupKey != v.wantID {
				t.Fatalf("event id %q, dedup key %q, want %q", res.EventID, res.DedupKey, v.wantID)
			}
		})
	}
}

// TestBodyPresetsRefuse: tampered body (for MACs) and wrong secret are mismatches;
// no signature header is missing_header.
func TestBodyPresetsRefuse(t *testing.T) {
	for _, v := range bodyPresetVectors() {
		t.Run(v.typ, func(t *testing.T) {
			cfg := presetCfg(t, v.typ, presetSecret)
			good := v.sign(presetSecret, v.body)
			if v.typ != "gitlab" { // a token does not cover the body
				_, err := Verify(cfg, Request{Header: good, Body: []byte(v.body + " ")}, testNow)
				checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
			}
			_, err := Verify(cfg, Request{Header: v.sign("wrong-secret", v.body), Body: []byte(v.body)}, testNow)
			checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
			_, err = Verify(cfg, Request{Header: http.Header{}, Body: []byte(v.body)}, testNow)
			checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMissingHeader, Result{})
		})
	}
}

// TestBodyPresetsRefuseMalformedSignatures: a value without the scheme
// prefix or not in the provider's encoding is malformed_header.
func TestBodyPresetsRefuseMalformedSignatures(t *testing.T) {
	cases := []struct{ typ, header, value string }{
		{"gitea", "X-Gitea-Signature", "zz"},
		{"bitbucket", "X-Hub-Signature", "sha1=" + macHex(sha1.New, presetSecret, "{}")},
		{"intercom", "X-Hub-Signature", macHex(sha1.New, presetSecret, "{}")},
		{"woocommerce", "X-WC-Webhook-Signature", "c2ln!"},
		{"typeform", "Typeform-Signature", macB64(sha256.New, presetSecret, "{}")},
		{"pagerduty", "X-PagerDuty-Signature", "v0=abcd"},
		{"pagerduty", "X-PagerDuty-Signature", "v1=" + macHex(sha256.New, presetSecret, "{}") + ",junk"},
		{"circleci", "circleci-signature", "v1=not-hex"},
		{"docusign", "X-DocuSign-Signature-1", "not base64!"},
	}
	for _, tc := range cases {
		t.Run(tc.typ+"/"+tc.value, func(t *testing.T) {
			cfg := presetCfg(t, tc.typ, presetSecret)
			_, err := Verify(cfg, Request{Header: hdr(tc.header, tc.value), Body: []byte("{}")}, testNow)
			checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMalformedHeader, Result{})
		})
	}
}

// TestStandardAliasesAcceptSvixDocumentedExample: svix, resend and clerk
// accept the worked example of Svix's "Verifying Webhooks Manually" page
// (https://docs.svix.com/receiving/verifying-payloads/how-manual), sent
// with the svix-* headers Resend and Clerk use, and refuse it once stale,
// too far ahead, tampered or under another secret.
func TestStandardAliasesAcceptSvixDocumentedExample(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		ts     = "1614265330"
		sig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
		body   = `{"test": 2432232314}`
	)
	at := time.Unix(1614265330, 0)
	h := hdr("svix-id", id, "svix-timestamp", ts, "svix-signature", sig)
	for _, typ := range []string{"svix", "resend", "clerk"} {
		t.Run(typ, func(t *testing.T) {
			cfg := presetCfg(t, typ, secret)
			res, err := Verify(cfg, Request{Header: h, Body: []byte(body)}, at.Add(time.Minute))
			if err != nil {
				t.Fatalf("Verify refused Svix's documented example: %v", err)
			}
			if res.EventID != id {
				t.Fatalf("event id %q, want %q", res.EventID, id)
			}
			_, err = Verify(cfg, Request{Header: h, Body: []byte(body)}, at.Add(6*time.Minute))
			checkVerify(t, Result{}, err, ErrTimestampOutOfWindow, ReasonStale, Result{})
			_, err = Verify(cfg, Request{Header: h, Body: []byte(body)}, at.Add(-6*time.Minute))
			checkVerify(t, Result{}, err, ErrTimestampOutOfWindow, ReasonFuture, Result{})
			_, err = Verify(cfg, Request{Header: h, Body: []byte(`{"test": 2432232315}`)}, at)
			checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
			other := presetCfg(t, typ, "whsec_"+"b3RoZXItc2VjcmV0")
			_, err = Verify(other, Request{Header: h, Body: []byte(body)}, at)
			checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
		})
	}
}

func presetCfg(t testing.TB, typ string, secrets ...string) *SourceConfig {
	t.Helper()
	cfg := &SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: typ, Secrets: secrets}}
	if err := cfg.Normalize(); err != nil {
		t.Fatalf("Normalize(%s): %v", typ, err)
	}
	return cfg
}
