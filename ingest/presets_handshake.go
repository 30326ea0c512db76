package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Presets whose providers prove endpoint ownership before they send
// events. A handshake is answered through Result.Reply and never
// enqueued; an answer that reflects a provider-chosen value does so as
// text/plain with nosniff, or JSON-encoded.

const (
	TypeMeta    = "meta"
	TypeZoom    = "zoom"
	TypeTwitch  = "twitch"
	TypeDropbox = "dropbox"
	TypeOkta    = "okta"
	TypeMSGraph = "msgraph"
	TypeAsana   = "asana"
	TypeNetlify = "netlify"
)

const (
	HeaderMetaSignature      = "X-Hub-Signature-256"
	HeaderZoomSignature      = "X-Zm-Signature"
	HeaderZoomTimestamp      = "X-Zm-Request-Timestamp"
	HeaderTwitchID           = "Twitch-Eventsub-Message-Id"
	HeaderTwitchTimestamp    = "Twitch-Eventsub-Message-Timestamp"
	HeaderTwitchSignature    = "Twitch-Eventsub-Message-Signature"
	HeaderTwitchType         = "Twitch-Eventsub-Message-Type"
	HeaderDropboxSignature   = "X-Dropbox-Signature"
	HeaderOktaChallenge      = "X-Okta-Verification-Challenge"
	HeaderAsanaSecret        = "X-Hook-Secret" // #nosec G101 -- a header name, not a credential
	HeaderAsanaSignature     = "X-Hook-Signature"
	HeaderNetlifySignature   = "X-Webhook-Signature"
	metaVerifyTokenPrefix    = "verify_token:"
	plainTextContentType     = "text/plain; charset=utf-8"
	jsonContentType          = "application/json"
	maxReflectedChallengeLen = 1024
)

// plainReply echoes a provider's challenge as text/plain, nosniff.
func plainReply(s string) *Reply {
	return &Reply{ContentType: plainTextContentType, Body: []byte(s), Header: http.Header{"X-Content-Type-Options": {"nosniff"}}}
}

// challengeOK bounds a reflected challenge: non-empty, at most 1 KiB.
func challengeOK(s string) bool { return s != "" && len(s) <= maxReflectedChallengeLen }

// Meta (Facebook, Instagram, WhatsApp):
// https://developers.facebook.com/docs/graph-api/webhooks/getting-started
// GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=… is answered
// with the challenge when the verify token matches; events carry
// X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body> keyed with the
// App Secret. The two are different secrets: verify tokens are the
// secrets written "verify_token:<token>", every other secret is an App
// Secret, and neither kind is ever used as the other.
func verifyMeta(secrets []string, req Request) (checked, error) {
	var tokens, appSecrets []string
	for _, s := range secrets {
		if t, ok := strings.CutPrefix(s, metaVerifyTokenPrefix); ok {
			tokens = append(tokens, t)
		} else {
			appSecrets = append(appSecrets, s)
		}
	}
	if req.Method == http.MethodGet {
		q := req.Query
		if q.Get("hub.mode") != "subscribe" || !challengeOK(q.Get("hub.challenge")) {
			return checked{}, sigErr(ReasonMalformedHeader, "?hub.mode")
		}
		tok := q.Get("hub.verify_token")
		if tok == "" {
			return checked{}, sigErr(ReasonMissingHeader, "?hub.verify_token")
		}
		if !equalSecret(tok, tokens) {
			return checked{}, sigErr(ReasonMismatch, "?hub.verify_token")
		}
		return checked{reply: plainReply(q.Get("hub.challenge"))}, nil
	}
	return checked{}, verifyGitHub(appSecrets, req)
}

func metaSecretProblem(s string) string {
	if t, ok := strings.CutPrefix(s, metaVerifyTokenPrefix); ok && t == "" {
		return "verify_token: must be followed by the token"
	}
	return ""
}

func signMeta(secret string, in signInput) (http.Header, error) {
	if strings.HasPrefix(secret, metaVerifyTokenPrefix) {
		return nil, errSignWith("meta events are signed with the App Secret, not a verify token")
	}
	return hdr1(HeaderMetaSignature, "sha256="+hex.EncodeToString(macOf(sha256.New, []byte(secret), in.body))), nil
}

// Zoom: https://developers.zoom.us/docs/api/webhooks/#verify-webhook-events
// x-zm-signature: v0=<hex HMAC-SHA256 of "v0:<x-zm-request-timestamp>:<body>">
// keyed with the app's Secret Token. A signed endpoint.url_validation
// event is answered {"plainToken","encryptedToken"}, encryptedToken being
// hex HMAC-SHA256 of plainToken under the secret that signed it.
func verifyZoom(secrets []string, req Request) (checked, error) {
	s := headerValue(req.Header, HeaderZoomSignature)
	if s == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderZoomSignature)
	}
	t := headerValue(req.Header, HeaderZoomTimestamp)
	if t == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderZoomTimestamp)
	}
	sig, ok := parsePrefixedHex(s, "v0=")
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderZoomSignature)
	}
	ts, ok := parseTimestamp(t)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderZoomTimestamp)
	}
	matched := ""
	for _, secret := range secrets {
		if secret != "" && hmac.Equal(macOf(sha256.New, []byte(secret), []byte("v0:"+t+":"), req.Body), sig) {
			matched = secret
		}
	}
	if matched == "" {
		return checked{}, sigErr(ReasonMismatch, HeaderZoomSignature)
	}
	c := checked{ts: ts, timed: true}
	var m struct {
		Event   string `json:"event"`
		Payload struct {
			PlainToken string `json:"plainToken"`
		} `json:"payload"`
	}
	if json.Unmarshal(req.Body, &m) == nil && m.Event == "endpoint.url_validation" {
		if !challengeOK(m.Payload.PlainToken) {
			return checked{}, sigErr(ReasonMalformedHeader, "body payload.plainToken")
		}
		enc := hex.EncodeToString(macOf(sha256.New, []byte(matched), []byte(m.Payload.PlainToken)))
		body, err := json.Marshal(map[string]string{"plainToken": m.Payload.PlainToken, "encryptedToken": enc})
		if err != nil {
			return checked{}, sigErr(ReasonMalformedHeader, "body payload.plainToken")
		}
		c.reply = &Reply{ContentType: jsonContentType, Body: body}
	}
	return c, nil
}

func signZoom(secret string, in signInput) (http.Header, error) {
	t := strconv.FormatInt(in.now.Unix(), 10)
	mac := macOf(sha256.New, []byte(secret), []byte("v0:"+t+":"), in.body)
	h := hdr1(HeaderZoomSignature, "v0="+hex.EncodeToString(mac))
	h.Set(HeaderZoomTimestamp, t)
	return h, nil
}

// Twitch EventSub:
// https://dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message
// Twitch-Eventsub-Message-Signature: sha256=<hex HMAC-SHA256 of message
// id + timestamp + body>; the timestamp is RFC 3339. A signed
// webhook_callback_verification is answered with its challenge as
// text/plain.
func verifyTwitch(secrets []string, req Request) (checked, error) {
	s := headerValue(req.Header, HeaderTwitchSignature)
	if s == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderTwitchSignature)
	}
	id := headerValue(req.Header, HeaderTwitchID)
	if id == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderTwitchID)
	}
	t := headerValue(req.Header, HeaderTwitchTimestamp)
	if t == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderTwitchTimestamp)
	}
	sig, ok := parsePrefixedHex(s, "sha256=")
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderTwitchSignature)
	}
	when, err := time.Parse(time.RFC3339Nano, t)
	if err != nil {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderTwitchTimestamp)
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, []byte(id+t), req.Body), [][]byte{sig}) {
		return checked{}, sigErr(ReasonMismatch, HeaderTwitchSignature)
	}
	c := checked{ts: unixClamped(when), timed: true, id: id}
	if headerValue(req.Header, HeaderTwitchType) == "webhook_callback_verification" {
		var m struct {
			Challenge string `json:"challenge"`
		}
		if json.Unmarshal(req.Body, &m) != nil || !challengeOK(m.Challenge) {
			return checked{}, sigErr(ReasonMalformedHeader, "body challenge")
		}
		c.reply = plainReply(m.Challenge)
	}
	return c, nil
}

func signTwitch(secret string, in signInput) (http.Header, error) {
	id := in.eventID
	if id == "" {
		id = "hookq-" + strconv.FormatInt(in.now.UnixNano(), 36)
	}
	t := in.now.UTC().Format(time.RFC3339Nano)
	mac := macOf(sha256.New, []byte(secret), []byte(id+t), in.body)
	h := hdr1(HeaderTwitchSignature, "sha256="+hex.EncodeToString(mac))
	h.Set(HeaderTwitchID, id)
	h.Set(HeaderTwitchTimestamp, t)
	h.Set(HeaderTwitchType, "notification")
	return h, nil
}

// Dropbox: https://www.dropbox.com/developers/reference/webhooks
// GET ?challenge=… is echoed (text/plain, nosniff); notifications carry
// X-Dropbox-Signature: hex HMAC-SHA256 of the body keyed with the app
// secret.
func verifyDropbox(secrets []string, req Request) (checked, error) {
	if req.Method == http.MethodGet {
		ch := req.Query.Get("challenge")
		if !challengeOK(ch) {
			return checked{}, sigErr(ReasonMissingHeader, "?challenge")
		}
		return checked{reply: plainReply(ch)}, nil
	}
	return checked{}, verifyBodyPreset(bodyPreset{header: HeaderDropboxSignature, hash: sha256.New}, secrets, req)
}

func signDropbox(secret string, in signInput) (http.Header, error) {
	return hdr1(HeaderDropboxSignature, hex.EncodeToString(macOf(sha256.New, []byte(secret), in.body))), nil
}

// Okta event hooks:
// https://developer.okta.com/docs/concepts/event-hooks/#one-time-verification-request
// GET with X-Okta-Verification-Challenge is answered
// {"verification":"<challenge>"}; events carry the Authorization header
// value configured on the hook, compared with the secrets.
func verifyOkta(secrets []string, req Request) (checked, error) {
	if req.Method == http.MethodGet {
		ch := headerValue(req.Header, HeaderOktaChallenge)
		if !challengeOK(ch) {
			return checked{}, sigErr(ReasonMissingHeader, HeaderOktaChallenge)
		}
		body, err := json.Marshal(map[string]string{"verification": ch})
		if err != nil {
			return checked{}, sigErr(ReasonMalformedHeader, HeaderOktaChallenge)
		}
		return checked{reply: &Reply{ContentType: jsonContentType, Body: body}}, nil
	}
	a := headerValue(req.Header, HeaderAuthorization)
	if a == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderAuthorization)
	}
	if !equalSecret(a, secrets) {
		return checked{}, sigErr(ReasonMismatch, HeaderAuthorization)
	}
	return checked{}, nil
}

func signOkta(secret string, in signInput) (http.Header, error) {
	return hdr1(HeaderAuthorization, secret), nil
}

// Microsoft Graph change notifications:
// https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks
// A POST with ?validationToken=… is answered with the token as
// text/plain; notifications ({"value":[…]}) are accepted when every
// item's clientState equals a secret (the clientState given when the
// subscription was created).
func verifyMSGraph(secrets []string, req Request) (checked, error) {
	if tok := req.Query.Get("validationToken"); tok != "" {
		if !challengeOK(tok) {
			return checked{}, sigErr(ReasonMalformedHeader, "?validationToken")
		}
		return checked{reply: plainReply(tok)}, nil
	}
	var m struct {
		Value []struct {
			ClientState *string `json:"clientState"`
		} `json:"value"`
	}
	if json.Unmarshal(req.Body, &m) != nil || len(m.Value) == 0 {
		return checked{}, sigErr(ReasonMissingHeader, "body value[].clientState")
	}
	for _, n := range m.Value {
		if n.ClientState == nil || *n.ClientState == "" {
			return checked{}, sigErr(ReasonMissingHeader, "body value[].clientState")
		}
		if !equalSecret(*n.ClientState, secrets) {
			return checked{}, sigErr(ReasonMismatch, "body value[].clientState")
		}
	}
	return checked{}, nil
}

// signMSGraph sets clientState on every item of a {"value":[{…}]} body.
func signMSGraph(secret string, in signInput) (Signed, error) {
	var m map[string]json.RawMessage
	var items []map[string]json.RawMessage
	if json.Unmarshal(in.body, &m) != nil || json.Unmarshal(m["value"], &items) != nil || len(items) == 0 {
		return Signed{}, errSignWith(`msgraph signs a body {"value":[{…},…]}`)
	}
	cs, err := json.Marshal(secret)
	if err != nil {
		return Signed{}, err
	}
	for _, it := range items {
		if it == nil {
			return Signed{}, errSignWith(`msgraph signs a body {"value":[{…},…]}`)
		}
		it["clientState"] = cs
	}
	raw, err := json.Marshal(items)
	if err != nil {
		return Signed{}, err
	}
	m["value"] = raw
	body, err := json.Marshal(m)
	if err != nil {
		return Signed{}, err
	}
	return Signed{Header: hdr1("Content-Type", jsonContentType), Body: body}, nil
}

// Asana: https://developers.asana.com/docs/webhooks-guide
// The handshake is a POST with X-Hook-Secret, answered 200 with the same
// header. A source created without secrets takes that secret (Reply.
// CaptureSecret: api stores it through a replicated write); a source that
// has secrets echoes only a secret it already has (a repeated handshake)
// and refuses any other, so a stranger cannot replace the secret. Events
// carry X-Hook-Signature: hex HMAC-SHA256 of the body.
func verifyAsana(secrets []string, req Request) (checked, error) {
	if hs := headerValue(req.Header, HeaderAsanaSecret); hs != "" {
		if len(hs) > MaxSecretBytes || !utf8.ValidString(hs) {
			return checked{}, sigErr(ReasonMalformedHeader, HeaderAsanaSecret)
		}
		rep := &Reply{Header: http.Header{HeaderAsanaSecret: {hs}}}
		switch {
		case !hasSecret(secrets):
			rep.CaptureSecret = hs
		case !equalSecret(hs, secrets):
			return checked{}, sigErr(ReasonMismatch, HeaderAsanaSecret)
		}
		return checked{reply: rep}, nil
	}
	if !hasSecret(secrets) {
		return checked{}, sigErr(ReasonMissingHeader, HeaderAsanaSecret)
	}
	return checked{}, verifyBodyPreset(bodyPreset{header: HeaderAsanaSignature, hash: sha256.New}, secrets, req)
}

func hasSecret(secrets []string) bool {
	for _, s := range secrets {
		if s != "" {
			return true
		}
	}
	return false
}

func signAsana(secret string, in signInput) (http.Header, error) {
	return hdr1(HeaderAsanaSignature, hex.EncodeToString(macOf(sha256.New, []byte(secret), in.body))), nil
}

// Netlify: https://docs.netlify.com/site-deploys/deploy-notifications/#payload-signature
// X-Webhook-Signature: a JWS (compact, HS256, keyed with the JWS secret
// token) whose claims are {"iss":"netlify","sha256":"<hex SHA-256 of the
// body>"}.
func verifyNetlify(secrets []string, req Request) (checked, error) {
	s := headerValue(req.Header, HeaderNetlifySignature)
	if s == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderNetlifySignature)
	}
	signed, sig, claims, ok := parseJWSHS256(s)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderNetlifySignature)
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, []byte(signed)), [][]byte{sig}) {
		return checked{}, sigErr(ReasonMismatch, HeaderNetlifySignature)
	}
	var c struct {
		Iss    string `json:"iss"`
		SHA256 string `json:"sha256"`
	}
	if json.Unmarshal(claims, &c) != nil || c.Iss != "netlify" {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderNetlifySignature)
	}
	sum := sha256.Sum256(req.Body)
	want, ok := decodeHex(c.SHA256)
	if !ok || !hmac.Equal(want, sum[:]) {
		return checked{}, sigErr(ReasonMismatch, HeaderNetlifySignature)
	}
	return checked{}, nil
}

// parseJWSHS256 splits a compact JWS whose protected header says
// alg HS256: it returns the signing input ("<header>.<payload>"), the
// decoded signature and the decoded payload. Every part must be
// canonical unpadded base64url; any other alg (none included) is refused.
func parseJWSHS256(s string) (signed string, sig, payload []byte, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return "", nil, nil, false
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil || p == "" || base64.RawURLEncoding.EncodeToString(b) != p {
			return "", nil, nil, false
		}
		raw[i] = b
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(raw[0], &h) != nil || h.Alg != "HS256" {
		return "", nil, nil, false
	}
	return parts[0] + "." + parts[1], raw[2], raw[1], true
}

func signNetlify(secret string, in signInput) (http.Header, error) {
	sum := sha256.Sum256(in.body)
	claims, err := json.Marshal(map[string]string{"iss": "netlify", "sha256": hex.EncodeToString(sum[:])})
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	return hdr1(HeaderNetlifySignature, signed+"."+enc.EncodeToString(macOf(sha256.New, []byte(secret), []byte(signed)))), nil
}
