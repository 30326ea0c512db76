package ingest

import (
	"crypto/sha1" // #nosec G505 -- HMAC-SHA1 only, for the providers that sign with it (intercom, segment, vercel, twilio)
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"strings"
)

// Provider presets (issue 17). The simple ones are rows of bodyPresets: a
// MAC of the raw body, or a token, in one header. The presets whose
// signature covers more than the body, or that are asymmetric or answer a
// handshake, have their own verifiers in presets_*.go.

// Preset type names (the verify.type values).
const (
	TypeSvix         = "svix"
	TypeResend       = "resend"
	TypeClerk        = "clerk"
	TypeGitLab       = "gitlab"
	TypeGitea        = "gitea"
	TypeBitbucket    = "bitbucket"
	TypeIntercom     = "intercom"
	TypeSegment      = "segment"
	TypeVercel       = "vercel"
	TypeSentry       = "sentry"
	TypeLemonSqueezy = "lemonsqueezy"
	TypeWooCommerce  = "woocommerce"
	TypeRazorpay     = "razorpay"
	TypeTypeform     = "typeform"
	TypeLaunchDarkly = "launchdarkly"
	TypePagerDuty    = "pagerduty"
	TypeCircleCI     = "circleci"
	TypeDocuSign     = "docusign"
)

// sigEncoding is how a preset spells its MAC in the header.
type sigEncoding int

const (
	encHex       sigEncoding = iota // hex, either case
	encStdBase64                    // canonical, padded, standard base64
)

// bodyPreset describes a provider that sends one header carrying a MAC of
// the raw body (or, with token set, the secret itself).
type bodyPreset struct {
	header string           // the signature (or token) header
	hash   func() hash.Hash // MAC hash; nil with token
	enc    sigEncoding
	prefix string // required scheme prefix of the value ("sha256=")
	// list: the header is a comma-separated list of "<prefix><sig>" items
	// (rotation); items with another scheme are ignored.
	list  bool
	token bool // the header carries the secret itself (constant-time compare)
	// The provider's event id: a header, else a JSON pointer into the body.
	idHeader string
	idJSON   []string
}

// bodyPresets: the provider presets checked by one header over the body.
// Each row names the documentation page it follows.
var bodyPresets = map[string]bodyPreset{
	// https://docs.gitlab.com/user/project/integrations/webhooks/ (Secret
	// token; X-Gitlab-Event-UUID identifies the event).
	TypeGitLab: {header: "X-Gitlab-Token", token: true, idHeader: "X-Gitlab-Event-UUID"},
	// https://docs.gitea.com/usage/webhooks (X-Gitea-Signature: hex
	// HMAC-SHA256 of the body; X-Gitea-Delivery).
	TypeGitea: {header: "X-Gitea-Signature", hash: sha256.New, idHeader: "X-Gitea-Delivery"},
	// https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/
	// (Secure webhooks: X-Hub-Signature: sha256=<hex>; X-Request-UUID).
	TypeBitbucket: {header: "X-Hub-Signature", hash: sha256.New, prefix: "sha256=", idHeader: "X-Request-UUID"},
	// https://developers.intercom.com/docs/references/webhooks/webhook-models
	// (Signed notifications: X-Hub-Signature: sha1=<hex> keyed with the
	// app's client secret; notification "id" in the body).
	TypeIntercom: {header: "X-Hub-Signature", hash: sha1.New, prefix: "sha1=", idJSON: []string{"id"}},
	// https://segment.com/docs/connections/destinations/catalog/actions-webhook/
	// (X-Signature: hex HMAC-SHA1 of the body with the shared secret;
	// messageId in the body).
	TypeSegment: {header: "X-Signature", hash: sha1.New, idJSON: []string{"messageId"}},
	// https://vercel.com/docs/webhooks/webhooks-api#securing-webhooks
	// (x-vercel-signature: hex HMAC-SHA1 of the body; event "id").
	TypeVercel: {header: "X-Vercel-Signature", hash: sha1.New, idJSON: []string{"id"}},
	// https://docs.sentry.io/organization/integrations/integration-platform/webhooks/
	// (Sentry-Hook-Signature: hex HMAC-SHA256 of the body with the client
	// secret; Request-ID identifies the delivery).
	TypeSentry: {header: "Sentry-Hook-Signature", hash: sha256.New, idHeader: "Request-ID"},
	// https://docs.lemonsqueezy.com/help/webhooks/signing-requests
	// (X-Signature: hex HMAC-SHA256 of the body; no event id).
	TypeLemonSqueezy: {header: "X-Signature", hash: sha256.New},
	// https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks
	// (X-WC-Webhook-Signature: base64 HMAC-SHA256 of the body;
	// X-WC-Webhook-Delivery-ID).
	TypeWooCommerce: {header: "X-WC-Webhook-Signature", hash: sha256.New, enc: encStdBase64, idHeader: "X-WC-Webhook-Delivery-ID"},
	// https://razorpay.com/docs/webhooks/validate-test/ (X-Razorpay-Signature:
	// hex HMAC-SHA256 of the body; x-razorpay-event-id).
	TypeRazorpay: {header: "X-Razorpay-Signature", hash: sha256.New, idHeader: "X-Razorpay-Event-Id"},
	// https://www.typeform.com/developers/webhooks/secure-your-webhooks/
	// (Typeform-Signature: sha256=<base64>; event_id in the body).
	TypeTypeform: {header: "Typeform-Signature", hash: sha256.New, enc: encStdBase64, prefix: "sha256=", idJSON: []string{"event_id"}},
	// https://launchdarkly.com/docs/home/connections/webhooks#sign-webhooks
	// (X-LD-Signature: hex HMAC-SHA256 of the body; the audit log entry's
	// "_id").
	TypeLaunchDarkly: {header: "X-LD-Signature", hash: sha256.New, idJSON: []string{"_id"}},
	// https://developer.pagerduty.com/docs/verifying-signatures
	// (X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]; event.id in the body).
	TypePagerDuty: {header: "X-PagerDuty-Signature", hash: sha256.New, prefix: "v1=", list: true, idJSON: []string{"event", "id"}},
	// https://circleci.com/docs/webhooks/#validate-webhooks
	// (circleci-signature: v1=<hex>, other versions ignored; event "id").
	TypeCircleCI: {header: "Circleci-Signature", hash: sha256.New, prefix: "v1=", list: true, idJSON: []string{"id"}},
	// https://developers.docusign.com/platform/webhooks/connect/hmac/
	// (X-DocuSign-Signature-1: base64 HMAC-SHA256 of the body; with key
	// rotation -2…; Connect sends no delivery id).
	TypeDocuSign: {header: "X-DocuSign-Signature-1", hash: sha256.New, enc: encStdBase64},
}

// docuSignHeaders: DocuSign sends one signature header per active key
// (up to 100); any one matching any secret passes.
const docuSignMaxHeaders = 5

// verifyBodyPreset checks a bodyPresets row.
func verifyBodyPreset(p bodyPreset, secrets []string, req Request) error {
	headers := []string{p.header}
	if p.header == "X-DocuSign-Signature-1" {
		for i := 2; i <= docuSignMaxHeaders; i++ {
			headers = append(headers, "X-DocuSign-Signature-"+strconv.Itoa(i))
		}
	}
	var raw []string
	for _, name := range headers {
		if v := headerValue(req.Header, name); v != "" {
			raw = append(raw, v)
		}
	}
	if len(raw) == 0 {
		return sigErr(ReasonMissingHeader, p.header)
	}
	if p.token {
		if !equalSecret(raw[0], secrets) {
			return sigErr(ReasonMismatch, p.header)
		}
		return nil
	}
	var sigs [][]byte
	for _, v := range raw {
		if p.list {
			s, ok := parseSchemeList(v, strings.TrimSuffix(p.prefix, "="))
			if !ok {
				return sigErr(ReasonMalformedHeader, p.header)
			}
			sigs = append(sigs, s...)
			continue
		}
		sig, ok := decodePresetSig(v, p.prefix, p.enc)
		if !ok {
			return sigErr(ReasonMalformedHeader, p.header)
		}
		sigs = append(sigs, sig)
	}
	if !anyMatch(keyedMACs(p.hash, secrets, req.Body), sigs) {
		return sigErr(ReasonMismatch, p.header)
	}
	return nil
}

// decodePresetSig strips a required prefix and decodes the rest.
func decodePresetSig(s, prefix string, enc sigEncoding) ([]byte, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return nil, false
	}
	if enc == encStdBase64 {
		return decodeStdBase64(rest)
	}
	return decodeHex(rest)
}

// parseSchemeList parses "<k>=<hex>[,<k>=<hex>…]" (PagerDuty, CircleCI)
// and returns the decoded signatures of scheme want. Items of other
// schemes are ignored; an item that is not "k=v" or a want item that is
// not hex makes the header malformed, as does a header with no want item.
// Spaces after commas are allowed.
func parseSchemeList(s, want string) ([][]byte, bool) {
	var sigs [][]byte
	for item := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimLeft(item, " "), "=")
		if !ok {
			return nil, false
		}
		if k != want {
			continue
		}
		sig, ok := decodeHex(v)
		if !ok {
			return nil, false
		}
		sigs = append(sigs, sig)
	}
	return sigs, len(sigs) > 0
}

// presetEventID is a bodyPresets row's event id.
func presetEventID(p bodyPreset, req Request) string {
	if p.idHeader != "" {
		return headerValue(req.Header, p.idHeader)
	}
	if p.idJSON != nil {
		return jsonText(req.Body, p.idJSON)
	}
	return ""
}

// signBodyPreset sets the headers of a bodyPresets row; eventID goes into
// the id header when the preset has one.
func signBodyPreset(p bodyPreset, h http.Header, secret string, body []byte, eventID string) {
	if eventID != "" && p.idHeader != "" {
		h.Set(p.idHeader, eventID)
	}
	if p.token {
		h.Set(p.header, secret)
		return
	}
	mac := macOf(p.hash, []byte(secret), body)
	if p.enc == encStdBase64 {
		h.Set(p.header, p.prefix+base64.StdEncoding.EncodeToString(mac))
		return
	}
	h.Set(p.header, p.prefix+hex.EncodeToString(mac))
}
