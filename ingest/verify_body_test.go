package ingest

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// Verifiers whose signature covers the body only (no signed timestamp):
// none, token, basic, hmac, github, shopify.

func TestVerifyNoneAcceptsAnything(t *testing.T) {
	runVerifyCases(t, []verifyCase{
		{name: "empty request", cfg: SourceConfig{Verify: VerifyConfig{Type: "none"}}},
		{
			name: "garbage headers and body",
			cfg:  SourceConfig{Verify: VerifyConfig{Type: "none"}},
			req:  Request{Header: hdr("X-Hub-Signature-256", "sha256=00"), Body: []byte("\x00\xff")},
		},
	})
}

func TestVerifyTokenMatchesHeaderOrQuery(t *testing.T) {
	cfg := SourceConfig{Verify: VerifyConfig{Type: "token", Secrets: secrets(oldSecret, newSecret)}}
	q := func(tok string) url.Values { return url.Values{"token": {tok}} }
	runVerifyCases(t, []verifyCase{
		{name: "header token equals first secret", cfg: cfg, req: Request{Header: hdr("X-Webhook-Token", oldSecret)}},
		{name: "header token equals rotated second secret", cfg: cfg, req: Request{Header: hdr("X-Webhook-Token", newSecret)}},
		{name: "query token equals a secret", cfg: cfg, req: Request{Query: q(newSecret)}},
		{name: "lower-case header name built by hand", cfg: cfg, req: Request{Header: map[string][]string{"x-webhook-token": {oldSecret}}}},
		{name: "missing token", cfg: cfg, req: Request{Body: []byte("{}")},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "empty query token", cfg: cfg, req: Request{Query: q("")},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "wrong header token", cfg: cfg, req: Request{Header: hdr("X-Webhook-Token", "nope")},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "prefix of a secret", cfg: cfg, req: Request{Header: hdr("X-Webhook-Token", oldSecret[:5])},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "secret with trailing byte", cfg: cfg, req: Request{Header: hdr("X-Webhook-Token", oldSecret+"x")},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "wrong header wins over right query", cfg: cfg,
			req:     Request{Header: hdr("X-Webhook-Token", "nope"), Query: q(oldSecret)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "wrong query token", cfg: cfg, req: Request{Query: q("nope")},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
	})
}

func TestVerifyBasicMatchesUserPassword(t *testing.T) {
	cfg := SourceConfig{Verify: VerifyConfig{Type: "basic", Secrets: secrets("alice:pw-old", "alice:pw-new")}}
	basic := func(cred string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(cred)) }
	runVerifyCases(t, []verifyCase{
		{name: "first secret", cfg: cfg, req: Request{Header: hdr("Authorization", basic("alice:pw-old"))}},
		{name: "rotated second secret", cfg: cfg, req: Request{Header: hdr("Authorization", basic("alice:pw-new"))}},
		{name: "scheme is case-insensitive", cfg: cfg,
			req: Request{Header: hdr("Authorization", "basic "+base64.StdEncoding.EncodeToString([]byte("alice:pw-old")))}},
		{name: "missing header", cfg: cfg,
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "wrong password", cfg: cfg, req: Request{Header: hdr("Authorization", basic("alice:pw-bad"))},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "wrong user", cfg: cfg, req: Request{Header: hdr("Authorization", basic("bob:pw-old"))},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "bearer scheme", cfg: cfg, req: Request{Header: hdr("Authorization", "Bearer alice:pw-old")},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "not base64", cfg: cfg, req: Request{Header: hdr("Authorization", "Basic !!!")},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "no colon in credential", cfg: cfg, req: Request{Header: hdr("Authorization", basic("alicepw-old"))},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "scheme without credential", cfg: cfg, req: Request{Header: hdr("Authorization", "Basic")},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
	})
}

func TestVerifyHMACAlgorithmsEncodingsAndPrefix(t *testing.T) {
	body := `{"order":42,"total":"9.99"}`
	v := func(alg, enc, prefix string) VerifyConfig {
		return VerifyConfig{Type: "hmac", Header: "X-Signature", Algorithm: alg, Encoding: enc, Prefix: prefix,
			Secrets: secrets(oldSecret, newSecret)}
	}
	req := func(sig, b string) Request { return Request{Header: hdr("X-Signature", sig), Body: []byte(b)} }
	runVerifyCases(t, []verifyCase{
		{name: "default sha256 hex", cfg: SourceConfig{Verify: v("", "", "")},
			req: req(macHex(sha256.New, oldSecret, body), body)},
		{name: "sha1 hex", cfg: SourceConfig{Verify: v("sha1", "hex", "")},
			req: req(macHex(sha1.New, oldSecret, body), body)},
		{name: "sha512 hex", cfg: SourceConfig{Verify: v("sha512", "hex", "")},
			req: req(macHex(sha512.New, oldSecret, body), body)},
		{name: "sha256 base64", cfg: SourceConfig{Verify: v("sha256", "base64", "")},
			req: req(macB64(sha256.New, oldSecret, body), body)},
		{name: "sha512 base64 rotated secret", cfg: SourceConfig{Verify: v("sha512", "base64", "")},
			req: req(macB64(sha512.New, newSecret, body), body)},
		{name: "upper-case hex", cfg: SourceConfig{Verify: v("sha256", "hex", "")},
			req: req(strings.ToUpper(macHex(sha256.New, oldSecret, body)), body)},
		{name: "prefix stripped", cfg: SourceConfig{Verify: v("sha256", "hex", "sha256=")},
			req: req("sha256="+macHex(sha256.New, oldSecret, body), body)},
		{name: "rotated second secret", cfg: SourceConfig{Verify: v("sha256", "hex", "")},
			req: req(macHex(sha256.New, newSecret, body), body)},
		{name: "empty body signed", cfg: SourceConfig{Verify: v("sha256", "hex", "")},
			req: req(macHex(sha256.New, oldSecret, ""), "")},
		{name: "configured prefix missing", cfg: SourceConfig{Verify: v("sha256", "hex", "sha256=")},
			req:     req(macHex(sha256.New, oldSecret, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "tampered body", cfg: SourceConfig{Verify: v("sha256", "hex", "")},
			req:     req(macHex(sha256.New, oldSecret, body), strings.Replace(body, "42", "43", 1)),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "wrong secret", cfg: SourceConfig{Verify: v("sha256", "hex", "")},
			req:     req(macHex(sha256.New, "other", body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "sha1 signature for sha256 source", cfg: SourceConfig{Verify: v("sha256", "hex", "")},
			req:     req(macHex(sha1.New, oldSecret, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "missing header", cfg: SourceConfig{Verify: v("sha256", "hex", "")},
			req:     Request{Header: hdr("X-Other", macHex(sha256.New, oldSecret, body)), Body: []byte(body)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "not hex", cfg: SourceConfig{Verify: v("sha256", "hex", "")},
			req:     req("zz"+macHex(sha256.New, oldSecret, body)[2:], body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "base64 where hex configured", cfg: SourceConfig{Verify: v("sha256", "hex", "")},
			req:     req(macB64(sha256.New, oldSecret, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "non-canonical base64 with line break", cfg: SourceConfig{Verify: v("sha256", "base64", "")},
			req:     req(macB64(sha256.New, oldSecret, body)[:20]+"\n"+macB64(sha256.New, oldSecret, body)[20:], body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
	})
}

func TestVerifyGitHubSignatureAndDeliveryID(t *testing.T) {
	// Published vector: docs.github.com, "Validating webhook deliveries".
	const (
		docSecret = "It's a Secret to Everybody"
		docBody   = "Hello, World!"
		docSig    = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	)
	if got := "sha256=" + macHex(sha256.New, docSecret, docBody); got != docSig {
		t.Fatalf("test-side GitHub signer disagrees with GitHub's published vector: %s", got)
	}
	body := `{"action":"opened","number":1}`
	cfg := SourceConfig{Verify: VerifyConfig{Type: "github", Secrets: secrets(oldSecret, newSecret)}}
	sig := func(secret, b string) string { return "sha256=" + macHex(sha256.New, secret, b) }
	gh := func(s, b string) Request {
		return Request{Header: hdr("X-Hub-Signature-256", s, "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"), Body: []byte(b)}
	}
	runVerifyCases(t, []verifyCase{
		{name: "published GitHub vector", cfg: SourceConfig{Verify: VerifyConfig{Type: "github", Secrets: secrets(docSecret)}},
			req: Request{Header: hdr("X-Hub-Signature-256", docSig), Body: []byte(docBody)}},
		{name: "delivery id is the event id and dedup key", cfg: cfg, req: gh(sig(oldSecret, body), body),
			want: Result{EventID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", DedupKey: "72d3162e-cc78-11e3-81ab-4c9367dc0958"}},
		{name: "rotated second secret", cfg: cfg, req: Request{Header: hdr("X-Hub-Signature-256", sig(newSecret, body)), Body: []byte(body)}},
		{name: "tampered body", cfg: cfg, req: gh(sig(oldSecret, body), body+" "),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "wrong secret", cfg: cfg, req: gh(sig("wrong", body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "missing header", cfg: cfg, req: Request{Header: hdr("X-GitHub-Delivery", "d1"), Body: []byte(body)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "legacy sha1 header only", cfg: cfg,
			req:     Request{Header: hdr("X-Hub-Signature", "sha1="+macHex(sha1.New, oldSecret, body)), Body: []byte(body)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "no sha256= prefix", cfg: cfg, req: gh(macHex(sha256.New, oldSecret, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "sha1= scheme in the sha256 header", cfg: cfg, req: gh("sha1="+macHex(sha1.New, oldSecret, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "odd-length hex", cfg: cfg, req: gh(sig(oldSecret, body)[:len(sig(oldSecret, body))-1], body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "truncated but valid hex", cfg: cfg, req: gh(sig(oldSecret, body)[:len(sig(oldSecret, body))-2], body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
	})
}

func TestVerifyShopifyBase64SignatureAndEventID(t *testing.T) {
	body := `{"id":820982911946154508,"email":"jon@example.com"}`
	cfg := SourceConfig{Verify: VerifyConfig{Type: "shopify", Secrets: secrets(oldSecret, newSecret)}}
	shop := func(sig, b string, kv ...string) Request {
		return Request{Header: hdr(append([]string{"X-Shopify-Hmac-Sha256", sig}, kv...)...), Body: []byte(b)}
	}
	good := macB64(sha256.New, oldSecret, body)
	runVerifyCases(t, []verifyCase{
		{name: "event id header", cfg: cfg, req: shop(good, body, "X-Shopify-Event-Id", "evt-1", "X-Shopify-Webhook-Id", "wh-1"),
			want: Result{EventID: "evt-1", DedupKey: "evt-1"}},
		{name: "falls back to webhook id", cfg: cfg, req: shop(good, body, "X-Shopify-Webhook-Id", "wh-1"),
			want: Result{EventID: "wh-1", DedupKey: "wh-1"}},
		{name: "no id headers", cfg: cfg, req: shop(good, body)},
		{name: "rotated second secret", cfg: cfg, req: shop(macB64(sha256.New, newSecret, body), body)},
		{name: "tampered body", cfg: cfg, req: shop(good, strings.Replace(body, "jon", "jan", 1)),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "wrong secret", cfg: cfg, req: shop(macB64(sha256.New, "wrong", body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "missing header", cfg: cfg, req: Request{Header: hdr("X-Shopify-Event-Id", "evt-1"), Body: []byte(body)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "hex instead of base64 decodes to the wrong bytes", cfg: cfg, req: shop(macHex(sha256.New, oldSecret, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "not base64", cfg: cfg, req: shop("not base64!", body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "unpadded base64", cfg: cfg, req: shop(strings.TrimRight(good, "="), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "non-canonical trailing bits", cfg: cfg, req: shop(flipLastBase64Bit(good), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
	})
}

// flipLastBase64Bit changes the last data character of a padded base64
// string so that only unused padding bits differ: a lenient decoder would
// still produce the same bytes.
func flipLastBase64Bit(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.LastIndexFunc(s, func(r rune) bool { return r != '=' })
	idx := strings.IndexByte(alphabet, s[i])
	return s[:i] + string(alphabet[idx^1]) + s[i+1:]
}
