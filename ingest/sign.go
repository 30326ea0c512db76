package ingest

import (
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
//     webhook-signature "v1,<base64>".
//
// cfg need not be Normalized. Errors wrap ErrInvalidConfig (unknown type or
// hmac setting, a standard secret that is not base64) or ErrCannotSign.
func Sign(cfg *SourceConfig, secret string, body []byte, now time.Time, eventID string) (http.Header, error) {
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
	case TypeStandard:
		if eventID == "" {
			return nil, fmt.Errorf("%w: standard webhooks need a message id (eventID)", ErrCannotSign)
		}
		skey, ok := standardKey(secret)
		if !ok {
			return nil, cfgErr("verify.secrets", `must be base64 (optionally after "whsec_") of a non-empty key`)
		}
		mac := macOf(sha256.New, skey, []byte(eventID), []byte("."), []byte(ts), []byte("."), body)
		h.Set(HeaderWebhookID, eventID)
		h.Set(HeaderWebhookTS, ts)
		h.Set(HeaderWebhookSig, "v1,"+base64.StdEncoding.EncodeToString(mac))
	}
	return h, nil
}
