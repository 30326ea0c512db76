package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Sign returns the headers a provider of type cfg.Verify.Type would send
// with body, signed with secret at time now, so that Verify accepts them. It
// is for tests and the load generator (bench); the server never signs.
//
//   - none: no headers; token: X-Webhook-Token; basic: Authorization
//     (secret is "user:password").
//   - hmac: cfg.Verify.Header = prefix + hex/base64 HMAC of the body.
//   - github: X-Hub-Signature-256, and X-GitHub-Delivery = eventID if set.
//   - stripe: Stripe-Signature "t=<now>,v1=<hex>" (the event id of a Stripe
//     event lives in the body's "id", so eventID is not used).
//   - shopify: X-Shopify-Hmac-Sha256, and X-Shopify-Event-Id = eventID if set.
//   - slack: X-Slack-Request-Timestamp and X-Slack-Signature.
//   - standard: webhook-id = eventID (required), webhook-timestamp and
//     webhook-signature "v1,<base64>"; svix, resend, clerk: the same under
//     the svix-* names.
//   - the body presets (gitlab … docusign): their signature (or token)
//     header, and eventID in the provider's id header where it has one.
//   - every other preset: through SignRequest with method POST and no URL,
//     so the presets that sign the URL (hubspot, square, twilio) or whose
//     signature changes the body (mailgun, linear, msgraph) give
//     ErrCannotSign here: use SignRequest. For discord and sendgrid secret
//     is the private key (see SignRequest).
//
// cfg need not be Normalized. Errors wrap ErrInvalidConfig (unknown type or
// hmac setting, a standard secret that is not base64) or ErrCannotSign.
func Sign(cfg *SourceConfig, secret string, body []byte, now time.Time, eventID string) (http.Header, error) {
	if cfg != nil {
		if _, ok := requestPresets[cfg.Verify.Type]; ok {
			s, err := SignRequest(cfg, secret, http.MethodPost, "", body, now, eventID)
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(s.Body, body) {
				return nil, fmt.Errorf("%w: %s puts the signature in the body: use SignRequest", ErrCannotSign, cfg.Verify.Type)
			}
			return s.Header, nil
		}
	}
	if cfg == nil {
		return nil, cfgErr("source", "missing")
	}
	v := &cfg.Verify
	h := make(http.Header)
	if v.Type == TypeNone {
		return h, nil
	}
	if !knownType(v.Type) {
		return nil, cfgErr("verify.type", fmt.Sprintf("unknown type %q", v.Type))
	}
	if secret == "" {
		return nil, fmt.Errorf("%w: empty secret", ErrCannotSign)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	key := []byte(secret)
	switch v.Type {
	case TypeToken:
		h.Set(HeaderToken, secret)
	case TypeBasic:
		h.Set(HeaderAuthorization, "Basic "+base64.StdEncoding.EncodeToString(key))
	case TypeHMAC:
		alg, enc := v.hmacScheme()
		newHash := hashFor(alg)
		switch {
		case newHash == nil:
			return nil, cfgErr("verify.algorithm", fmt.Sprintf("unknown algorithm %q", alg))
		case enc != "hex" && enc != "base64":
			return nil, cfgErr("verify.encoding", fmt.Sprintf("unknown encoding %q", enc))
		case !validHeaderName(v.Header):
			return nil, cfgErr("verify.header", fmt.Sprintf("invalid header name %q", v.Header))
		}
		mac := macOf(newHash, key, body)
		if enc == "base64" {
			h.Set(v.Header, v.Prefix+base64.StdEncoding.EncodeToString(mac))
		} else {
			h.Set(v.Header, v.Prefix+hex.EncodeToString(mac))
		}
	case TypeGitHub:
		h.Set(HeaderGitHubSignature, "sha256="+hex.EncodeToString(macOf(sha256.New, key, body)))
		if eventID != "" {
			h.Set(HeaderGitHubDelivery, eventID)
		}
	case TypeStripe:
		mac := macOf(sha256.New, key, []byte(ts), []byte("."), body)
		h.Set(HeaderStripeSignature, "t="+ts+",v1="+hex.EncodeToString(mac))
	case TypeShopify:
		h.Set(HeaderShopifyHMAC, base64.StdEncoding.EncodeToString(macOf(sha256.New, key, body)))
		if eventID != "" {
			h.Set(HeaderShopifyEventID, eventID)
		}
	case TypeSlack:
		mac := macOf(sha256.New, key, []byte("v0:"+ts+":"), body)
		h.Set(HeaderSlackTimestamp, ts)
		h.Set(HeaderSlackSignature, "v0="+hex.EncodeToString(mac))
	case TypeStandard, TypeSvix, TypeResend, TypeClerk:
		if eventID == "" {
			return nil, fmt.Errorf("%w: standard webhooks need a message id (eventID)", ErrCannotSign)
		}
		skey, ok := standardKey(secret)
		if !ok {
			return nil, cfgErr("verify.secrets", `must be base64 (optionally after "whsec_") of a non-empty key`)
		}
		mac := macOf(sha256.New, skey, []byte(eventID), []byte("."), []byte(ts), []byte("."), body)
		idName, tsName, sigName := HeaderWebhookID, HeaderWebhookTS, HeaderWebhookSig
		if v.Type != TypeStandard { // the aliases send Svix's names
			idName, tsName, sigName = HeaderSvixID, HeaderSvixTS, HeaderSvixSig
		}
		h.Set(idName, eventID)
		h.Set(tsName, ts)
		h.Set(sigName, "v1,"+base64.StdEncoding.EncodeToString(mac))
	default:
		signBodyPreset(bodyPresets[v.Type], h, secret, body, eventID)
	}
	return h, nil
}

// Signed is a request SignRequest produced: send Body to URL with Header.
// Body and URL differ from what SignRequest was given for the presets that
// sign inside them (mailgun puts the signature in the JSON body; twilio
// adds bodySHA256 to the URL of a JSON body).
type Signed struct {
	Header http.Header
	Body   []byte
	URL    string
}

// errNeedsURL: a preset whose signature covers the URL was signed without one.
var errNeedsURL = fmt.Errorf("%w: this preset signs the request URL: use SignRequest with the URL the request is sent to", ErrCannotSign)

// SignRequest is Sign for a whole request: method and target (the full
// URL the request will be sent to, query included) are signed too by the
// presets that cover them (hubspot, square, twilio). It handles every
// verify.type; for the asymmetric presets (discord, sendgrid) secret is
// the private key (see signDiscord, signSendGrid), for the others the
// secret the source is configured with. For the handshake presets it signs
// an ordinary event, not a handshake.
func SignRequest(cfg *SourceConfig, secret, method, target string, body []byte, now time.Time, eventID string) (Signed, error) {
	if cfg == nil {
		return Signed{}, cfgErr("source", "missing")
	}
	if method == "" {
		method = http.MethodPost
	}
	p, ok := requestPresets[cfg.Verify.Type]
	if !ok {
		h, err := Sign(cfg, secret, body, now, eventID)
		return Signed{Header: h, Body: body, URL: target}, err
	}
	if secret == "" {
		return Signed{}, fmt.Errorf("%w: empty secret", ErrCannotSign)
	}
	s, err := p.sign(secret, signInput{method: method, url: target, body: body, now: now, eventID: eventID})
	if err != nil {
		return Signed{}, err
	}
	if s.Body == nil {
		s.Body = body
	}
	if s.URL == "" {
		s.URL = target
	}
	return s, nil
}
