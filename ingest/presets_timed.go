package ingest

import (
	"crypto/sha1" // #nosec G505 -- HMAC-SHA1 only: Twilio signs with it
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Presets whose signature covers more than the body: a timestamp (held
// against verify.tolerance), the request URL or method, or fields of the
// body itself.

const (
	TypePaddle   = "paddle"
	TypeCalendly = "calendly"
	TypeMux      = "mux"
	TypeZendesk  = "zendesk"
	TypeLinear   = "linear"
	TypeHubSpot  = "hubspot"
	TypeSquare   = "square"
	TypeTwilio   = "twilio"
	TypeMailgun  = "mailgun"
)

const (
	HeaderPaddleSignature   = "Paddle-Signature"
	HeaderCalendlySignature = "Calendly-Webhook-Signature"
	HeaderMuxSignature      = "Mux-Signature"
	HeaderZendeskSignature  = "X-Zendesk-Webhook-Signature"
	HeaderZendeskTimestamp  = "X-Zendesk-Webhook-Signature-Timestamp"
	HeaderZendeskInvocation = "X-Zendesk-Webhook-Invocation-Id"
	HeaderLinearSignature   = "Linear-Signature"
	HeaderLinearDelivery    = "Linear-Delivery"
	HeaderHubSpotSignature  = "X-HubSpot-Signature-v3"
	HeaderHubSpotTimestamp  = "X-HubSpot-Request-Timestamp"
	HeaderSquareSignature   = "X-Square-Hmacsha256-Signature"
	HeaderTwilioSignature   = "X-Twilio-Signature"
	HeaderTwilioIdempotency = "I-Twilio-Idempotency-Token"
)

// Paddle Billing: https://developer.paddle.com/webhooks/signature-verification
// Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>…], HMAC-SHA256 of
// "<ts>:<body>" keyed with the notification destination's secret key.
func verifyPaddle(secrets []string, req Request) (checked, error) {
	h := headerValue(req.Header, HeaderPaddleSignature)
	if h == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderPaddleSignature)
	}
	t, ts, sigs, ok := parsePaddleSignature(h)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderPaddleSignature)
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, []byte(t+":"), req.Body), sigs) {
		return checked{}, sigErr(ReasonMismatch, HeaderPaddleSignature)
	}
	return checked{ts: ts, timed: true}, nil
}

// parsePaddleSignature parses "ts=<unix>;h1=<hex>[;h1=<hex>…]": exactly
// one canonical ts, at least one h1, every h1 hex; other keys ignored.
func parsePaddleSignature(s string) (t string, ts int64, sigs [][]byte, ok bool) {
	for item := range strings.SplitSeq(s, ";") {
		k, v, found := strings.Cut(item, "=")
		if !found {
			return "", 0, nil, false
		}
		switch k {
		case "ts":
			n, valid := parseTimestamp(v)
			if !valid || t != "" {
				return "", 0, nil, false
			}
			t, ts = v, n
		case "h1":
			sig, valid := decodeHex(v)
			if !valid {
				return "", 0, nil, false
			}
			sigs = append(sigs, sig)
		}
	}
	if t == "" || len(sigs) == 0 {
		return "", 0, nil, false
	}
	return t, ts, sigs, true
}

func signPaddle(secret string, in signInput) (http.Header, error) {
	t := strconv.FormatInt(in.now.Unix(), 10)
	mac := macOf(sha256.New, []byte(secret), []byte(t+":"), in.body)
	return hdr1(HeaderPaddleSignature, "ts="+t+";h1="+hex.EncodeToString(mac)), nil
}

// verifyTV returns a verifier for the "t=<unix>,v1=<hex>" scheme over
// "<t>.<body>" that Calendly
// (https://developer.calendly.com/api-docs/4c305798a61d3-webhook-signatures)
// and Mux (https://docs.mux.com/core/verify-webhook-signatures) share with
// Stripe.
func verifyTV(header string) func([]string, Request) (checked, error) {
	return func(secrets []string, req Request) (checked, error) {
		h := headerValue(req.Header, header)
		if h == "" {
			return checked{}, sigErr(ReasonMissingHeader, header)
		}
		sh, ok := parseStripeHeader(h)
		if !ok {
			return checked{}, sigErr(ReasonMalformedHeader, header)
		}
		if !anyMatch(keyedMACs(sha256.New, secrets, []byte(sh.t), []byte("."), req.Body), sh.sigs) {
			return checked{}, sigErr(ReasonMismatch, header)
		}
		return checked{ts: sh.ts, timed: true}, nil
	}
}

func signTV(header string) func(string, signInput) (http.Header, error) {
	return func(secret string, in signInput) (http.Header, error) {
		t := strconv.FormatInt(in.now.Unix(), 10)
		mac := macOf(sha256.New, []byte(secret), []byte(t+"."), in.body)
		return hdr1(header, "t="+t+",v1="+hex.EncodeToString(mac)), nil
	}
}

// Zendesk: https://developer.zendesk.com/documentation/webhooks/verifying/
// X-Zendesk-Webhook-Signature: base64 HMAC-SHA256 of "<timestamp><body>",
// where X-Zendesk-Webhook-Signature-Timestamp is RFC 3339 UTC.
func verifyZendesk(secrets []string, req Request) (checked, error) {
	s := headerValue(req.Header, HeaderZendeskSignature)
	if s == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderZendeskSignature)
	}
	t := headerValue(req.Header, HeaderZendeskTimestamp)
	if t == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderZendeskTimestamp)
	}
	sig, ok := decodeStdBase64(s)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderZendeskSignature)
	}
	when, err := time.Parse(time.RFC3339, t)
	if err != nil {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderZendeskTimestamp)
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, []byte(t), req.Body), [][]byte{sig}) {
		return checked{}, sigErr(ReasonMismatch, HeaderZendeskSignature)
	}
	return checked{ts: unixClamped(when), timed: true}, nil
}

func signZendesk(secret string, in signInput) (http.Header, error) {
	t := in.now.UTC().Format(time.RFC3339)
	mac := macOf(sha256.New, []byte(secret), []byte(t), in.body)
	h := hdr1(HeaderZendeskSignature, base64.StdEncoding.EncodeToString(mac))
	h.Set(HeaderZendeskTimestamp, t)
	if in.eventID != "" {
		h.Set(HeaderZendeskInvocation, in.eventID)
	}
	return h, nil
}

// unixClamped is t in Unix seconds, negative times as 0 (stale anyway).
func unixClamped(t time.Time) int64 {
	if u := t.Unix(); u > 0 {
		return u
	}
	return 0
}

// Linear: https://linear.app/developers/webhooks#securing-webhooks
// Linear-Signature: hex HMAC-SHA256 of the body; the body's
// webhookTimestamp (Unix milliseconds) is held against the window.
func verifyLinear(secrets []string, req Request) (checked, error) {
	s := headerValue(req.Header, HeaderLinearSignature)
	if s == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderLinearSignature)
	}
	sig, ok := decodeHex(s)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderLinearSignature)
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, req.Body), [][]byte{sig}) {
		return checked{}, sigErr(ReasonMismatch, HeaderLinearSignature)
	}
	ms, ok := parseTimestamp(jsonText(req.Body, []string{"webhookTimestamp"}))
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, "body webhookTimestamp")
	}
	return checked{ts: ms / 1000, timed: true}, nil
}

// signLinear stamps webhookTimestamp (now, in ms) into a JSON object body,
// as Linear's own bodies carry it, and signs the result.
func signLinear(secret string, in signInput) (Signed, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(in.body, &obj); err != nil || obj == nil {
		return Signed{}, fmt.Errorf("%w: linear signs a JSON object body", ErrCannotSign)
	}
	obj["webhookTimestamp"] = json.RawMessage(strconv.FormatInt(in.now.UnixMilli(), 10))
	body, err := json.Marshal(obj)
	if err != nil {
		return Signed{}, err
	}
	h := hdr1(HeaderLinearSignature, hex.EncodeToString(macOf(sha256.New, []byte(secret), body)))
	if in.eventID != "" {
		h.Set(HeaderLinearDelivery, in.eventID)
	}
	return Signed{Header: h, Body: body}, nil
}

// HubSpot v3: https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests
// X-HubSpot-Signature-v3: base64 HMAC-SHA256 (key: the app's client
// secret) of method + URI + body + X-HubSpot-Request-Timestamp (Unix
// milliseconds), where the URI is the full request URL with the
// characters of hubspotDecode percent-decoded.
func verifyHubSpot(secrets []string, req Request) (checked, error) {
	s := headerValue(req.Header, HeaderHubSpotSignature)
	if s == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderHubSpotSignature)
	}
	t := headerValue(req.Header, HeaderHubSpotTimestamp)
	if t == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderHubSpotTimestamp)
	}
	sig, ok := decodeStdBase64(s)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderHubSpotSignature)
	}
	ms, ok := parseTimestamp(t)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderHubSpotTimestamp)
	}
	uri := hubspotDecode.Replace(req.URL)
	if !anyMatch(keyedMACs(sha256.New, secrets, []byte(req.Method+uri), req.Body, []byte(t)), [][]byte{sig}) {
		return checked{}, sigErr(ReasonMismatch, HeaderHubSpotSignature)
	}
	return checked{ts: ms / 1000, timed: true}, nil
}

// hubspotDecode decodes exactly the escapes HubSpot's page lists.
var hubspotDecode = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$", "%27", "'",
	"%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

func signHubSpot(secret string, in signInput) (http.Header, error) {
	if in.url == "" {
		return nil, errNeedsURL
	}
	t := strconv.FormatInt(in.now.UnixMilli(), 10)
	mac := macOf(sha256.New, []byte(secret), []byte(in.method+hubspotDecode.Replace(in.url)), in.body, []byte(t))
	h := hdr1(HeaderHubSpotSignature, base64.StdEncoding.EncodeToString(mac))
	h.Set(HeaderHubSpotTimestamp, t)
	return h, nil
}

// Square: https://developer.squareup.com/docs/webhooks/step3validate
// x-square-hmacsha256-signature: base64 HMAC-SHA256 (key: the
// subscription's signature key) of the notification URL + body.
func verifySquare(secrets []string, req Request) (checked, error) {
	s := headerValue(req.Header, HeaderSquareSignature)
	if s == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderSquareSignature)
	}
	sig, ok := decodeStdBase64(s)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderSquareSignature)
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, []byte(req.URL), req.Body), [][]byte{sig}) {
		return checked{}, sigErr(ReasonMismatch, HeaderSquareSignature)
	}
	return checked{}, nil
}

func signSquare(secret string, in signInput) (http.Header, error) {
	if in.url == "" {
		return nil, errNeedsURL
	}
	mac := macOf(sha256.New, []byte(secret), []byte(in.url), in.body)
	return hdr1(HeaderSquareSignature, base64.StdEncoding.EncodeToString(mac)), nil
}

// Twilio: https://www.twilio.com/docs/usage/webhooks/webhooks-security
// X-Twilio-Signature: base64 HMAC-SHA1 (key: the auth token) of the full
// URL followed, for a form-encoded POST, by every parameter's name+value,
// sorted (twilioSortedParams). A JSON POST instead carries bodySHA256 (hex
// SHA-256 of the body) in the signed URL. Like Twilio's libraries, the URL
// is tried as given and with its port removed or the default one added.
func verifyTwilio(secrets []string, req Request) (checked, error) {
	s := headerValue(req.Header, HeaderTwilioSignature)
	if s == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderTwilioSignature)
	}
	sig, ok := decodeStdBase64(s)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderTwilioSignature)
	}
	params, bodyOK := twilioParams(req)
	var expected [][]byte
	for _, u := range twilioURLs(req.URL) {
		expected = append(expected, keyedMACs(sha1.New, secrets, []byte(u), params)...)
	}
	if !bodyOK || !anyMatch(expected, [][]byte{sig}) {
		return checked{}, sigErr(ReasonMismatch, HeaderTwilioSignature)
	}
	return checked{}, nil
}

// twilioParams is the signed suffix after the URL: the sorted form
// parameters of a form POST, nothing otherwise. ok is false when the body
// is not what the URL's bodySHA256 says, or the form does not parse, or
// the body is neither a form nor covered by bodySHA256: the signature
// would then cover the URL alone, and the body would be unsigned.
func twilioParams(req Request) (suffix []byte, ok bool) {
	if u, err := url.Parse(req.URL); err == nil && u.Query().Has("bodySHA256") {
		sum := sha256.Sum256(req.Body)
		want, valid := decodeHex(u.Query().Get("bodySHA256"))
		return nil, valid && string(want) == string(sum[:])
	}
	if req.Method != http.MethodPost || !isFormContentType(req.Header.Get("Content-Type")) {
		return nil, len(req.Body) == 0
	}
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return nil, false
	}
	return twilioSortedParams(form), true
}

// twilioSortedParams concatenates name+value of every form parameter in
// the order of Twilio's page: sorted by name (a repeated name by value).
// twilio-go's test vector with the overlapping names "Reason" and
// "ReasonConferenceEnded" pins this against sorting the concatenations.
func twilioSortedParams(form url.Values) []byte {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(form)) {
		vs := slices.Clone(form[k])
		slices.Sort(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	return []byte(b.String())
}

func isFormContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded")
}

// twilioURLs is raw, raw without its port, and raw with the scheme's
// default port when it has none: the variants Twilio's libraries try.
func twilioURLs(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return []string{raw}
	}
	alt := *u
	if u.Port() != "" {
		alt.Host = u.Hostname()
	} else {
		def := map[string]string{"https": "443", "http": "80"}[u.Scheme]
		if def == "" {
			return []string{raw}
		}
		alt.Host = u.Host + ":" + def
	}
	return []string{raw, alt.String()}
}

func signTwilio(secret string, in signInput) (Signed, error) {
	if in.url == "" {
		return Signed{}, errNeedsURL
	}
	u := in.url
	var params []byte
	if form, err := url.ParseQuery(string(in.body)); err == nil && len(in.body) > 0 && !json.Valid(in.body) {
		params = twilioSortedParams(form)
	} else {
		sum := sha256.Sum256(in.body)
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "bodySHA256=" + hex.EncodeToString(sum[:])
	}
	mac := macOf(sha1.New, []byte(secret), []byte(u), params)
	h := hdr1(HeaderTwilioSignature, base64.StdEncoding.EncodeToString(mac))
	if params != nil {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		h.Set("Content-Type", "application/json")
	}
	if in.eventID != "" {
		h.Set(HeaderTwilioIdempotency, in.eventID)
	}
	return Signed{Header: h, URL: u}, nil
}

// Mailgun: https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
// The signature travels in the body: JSON {"signature":{"timestamp",
// "token","signature"}} (or, for form posts, the fields timestamp, token,
// signature); signature is hex HMAC-SHA256 (key: the HTTP webhook signing
// key) of timestamp + token.
func verifyMailgun(secrets []string, req Request) (checked, error) {
	ts, token, s := mailgunFields(req)
	if s == "" || ts == "" || token == "" {
		return checked{}, sigErr(ReasonMissingHeader, "body signature")
	}
	sig, ok := decodeHex(s)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, "body signature")
	}
	n, ok := parseTimestamp(ts)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, "body timestamp")
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, []byte(ts+token)), [][]byte{sig}) {
		return checked{}, sigErr(ReasonMismatch, "body signature")
	}
	return checked{ts: n, timed: true}, nil
}

func mailgunFields(req Request) (ts, token, sig string) {
	var m struct {
		Signature struct {
			Timestamp string `json:"timestamp"`
			Token     string `json:"token"`
			Signature string `json:"signature"`
		} `json:"signature"`
	}
	if json.Unmarshal(req.Body, &m) == nil {
		return m.Signature.Timestamp, m.Signature.Token, m.Signature.Signature
	}
	if !isFormContentType(req.Header.Get("Content-Type")) {
		return "", "", ""
	}
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		return "", "", ""
	}
	return form.Get("timestamp"), form.Get("token"), form.Get("signature")
}

// signMailgun signs a JSON body: it must be a JSON object, into which the
// signature object is put (replacing any).
func signMailgun(secret string, in signInput) (Signed, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(in.body, &obj); err != nil || obj == nil {
		return Signed{}, fmt.Errorf("%w: mailgun signs a JSON object body", ErrCannotSign)
	}
	ts := strconv.FormatInt(in.now.Unix(), 10)
	token := hex.EncodeToString(macOf(sha256.New, []byte("token"), []byte(ts), in.body))
	sig := hex.EncodeToString(macOf(sha256.New, []byte(secret), []byte(ts+token)))
	raw, err := json.Marshal(map[string]string{"timestamp": ts, "token": token, "signature": sig})
	if err != nil {
		return Signed{}, err
	}
	obj["signature"] = raw
	body, err := json.Marshal(obj)
	if err != nil {
		return Signed{}, err
	}
	return Signed{Header: hdr1("Content-Type", "application/json"), Body: body}, nil
}

func hdr1(name, value string) http.Header {
	h := make(http.Header)
	h.Set(name, value)
	return h
}
