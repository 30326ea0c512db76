package ingest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func getReq(q url.Values, h http.Header) Request {
	if h == nil {
		h = http.Header{}
	}
	return Request{Method: http.MethodGet, Query: q, Header: h}
}

func wantReply(t *testing.T, res Result, err error, contentType, body string) *Reply {
	t.Helper()
	if err != nil {
		t.Fatalf("handshake refused: %v", err)
	}
	if res.Reply == nil {
		t.Fatalf("no reply: %+v", res)
	}
	if res.Reply.ContentType != contentType || string(res.Reply.Body) != body {
		t.Fatalf("reply %q %q, want %q %q", res.Reply.ContentType, res.Reply.Body, contentType, body)
	}
	if res.EventID != "" || res.DedupKey != "" {
		t.Fatalf("a handshake carries an event id or dedup key: %+v", res)
	}
	return res.Reply
}

func refused(t *testing.T, res Result, err error, wantErr error, reason string) {
	t.Helper()
	checkVerify(t, res, err, wantErr, reason, Result{})
}

// TestMetaVerifyTokenHandshakeAndAppSecretSignature: the GET handshake
// answers the challenge only for a configured verify token; events are
// checked with the App Secret, and a verify token is never a MAC key.
func TestMetaVerifyTokenHandshakeAndAppSecretSignature(t *testing.T) {
	cfg := presetCfg(t, "meta", "app-secret-1", "verify_token:vt-1")
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"vt-1"}, "hub.challenge": {"1158201444"}}
	res, err := Verify(cfg, getReq(q, nil), testNow)
	wantReply(t, res, err, "text/plain; charset=utf-8", "1158201444")
	for _, tc := range []struct {
		q      url.Values
		reason string
	}{
		{url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"app-secret-1"}, "hub.challenge": {"c"}}, ReasonMismatch},
		{url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"c"}}, ReasonMissingHeader},
		{url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {"vt-1"}, "hub.challenge": {"c"}}, ReasonMalformedHeader},
	} {
		res, err := Verify(cfg, getReq(tc.q, nil), testNow)
		refused(t, res, err, ErrSignatureInvalid, tc.reason)
	}
	body := `{"object":"page","entry":[]}`
	ok := Request{Header: hdr("X-Hub-Signature-256", "sha256="+macHex(sha256.New, "app-secret-1", body)), Body: []byte(body)}
	if _, err := Verify(cfg, ok, testNow); err != nil {
		t.Fatalf("event refused: %v", err)
	}
	byToken := Request{Header: hdr("X-Hub-Signature-256", "sha256="+macHex(sha256.New, "vt-1", body)), Body: []byte(body)}
	res, err = Verify(cfg, byToken, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
	ok.Body = []byte(body + " ")
	res, err = Verify(cfg, ok, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
}

func zoomReq(secret, body string, at time.Time) Request {
	ts := strconv.FormatInt(at.Unix(), 10)
	return Request{Header: hdr("x-zm-signature", "v0="+macHex(sha256.New, secret, "v0:"+ts+":"+body), "x-zm-request-timestamp", ts), Body: []byte(body)}
}

// TestZoomURLValidationAndEvents: a signed endpoint.url_validation is
// answered with plainToken and its HMAC under the secret that signed it;
// unsigned, wrongly signed, stale or future ones are refused, as are
// events.
func TestZoomURLValidationAndEvents(t *testing.T) {
	cfg := presetCfg(t, "zoom", "zoom-old", "zoom-secret")
	val := `{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`
	res, err := Verify(cfg, zoomReq("zoom-secret", val, testNow), testNow)
	want := `{"encryptedToken":"` + macHex(sha256.New, "zoom-secret", "qgg8vlvZRS6UYooatFL8Aw") + `","plainToken":"qgg8vlvZRS6UYooatFL8Aw"}`
	wantReply(t, res, err, "application/json", want)
	res, err = Verify(cfg, Request{Header: http.Header{}, Body: []byte(val)}, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMissingHeader)
	res, err = Verify(cfg, zoomReq("other", val, testNow), testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
	res, err = Verify(cfg, zoomReq("zoom-secret", val, testNow.Add(-6*time.Minute)), testNow)
	refused(t, res, err, ErrTimestampOutOfWindow, ReasonStale)
	res, err = Verify(cfg, zoomReq("zoom-secret", val, testNow.Add(6*time.Minute)), testNow)
	refused(t, res, err, ErrTimestampOutOfWindow, ReasonFuture)
	ev := zoomReq("zoom-secret", `{"event":"meeting.started","payload":{}}`, testNow)
	if res, err := Verify(cfg, ev, testNow); err != nil || res.Reply != nil {
		t.Fatalf("event: %+v %v", res, err)
	}
	ev.Body = []byte(`{"event":"meeting.ended","payload":{}}`)
	res, err = Verify(cfg, ev, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
}

func twitchReq(secret, id, typ, body string, at time.Time) Request {
	ts := at.UTC().Format("2006-01-02T15:04:05.000000000Z")
	return Request{Header: hdr("Twitch-Eventsub-Message-Id", id, "Twitch-Eventsub-Message-Timestamp", ts, "Twitch-Eventsub-Message-Type", typ,
		"Twitch-Eventsub-Message-Signature", "sha256="+macHex(sha256.New, secret, id+ts+body)), Body: []byte(body)}
}

// TestTwitchCallbackVerificationAndNotifications: a signed
// webhook_callback_verification is answered with its challenge; a
// notification is accepted with the message id as event id; the usual
// refusals apply to both.
func TestTwitchCallbackVerificationAndNotifications(t *testing.T) {
	cfg := presetCfg(t, "twitch", "twitch-secret")
	body := `{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}`
	res, err := Verify(cfg, twitchReq("twitch-secret", "m-1", "webhook_callback_verification", body, testNow), testNow)
	wantReply(t, res, err, "text/plain; charset=utf-8", "pogchamp-kappa-360noscope-vohiyo")
	res, err = Verify(cfg, twitchReq("nope", "m-1", "webhook_callback_verification", body, testNow), testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
	n := twitchReq("twitch-secret", "m-2", "notification", `{"event":{"user_id":"1"}}`, testNow)
	if res, err := Verify(cfg, n, testNow); err != nil || res.EventID != "m-2" || res.DedupKey != "m-2" {
		t.Fatalf("notification: %+v %v", res, err)
	}
	n.Body = []byte(`{"event":{"user_id":"2"}}`)
	res, err = Verify(cfg, n, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
	res, err = Verify(cfg, twitchReq("twitch-secret", "m-3", "notification", "{}", testNow.Add(-6*time.Minute)), testNow)
	refused(t, res, err, ErrTimestampOutOfWindow, ReasonStale)
	res, err = Verify(cfg, twitchReq("twitch-secret", "m-3", "notification", "{}", testNow.Add(6*time.Minute)), testNow)
	refused(t, res, err, ErrTimestampOutOfWindow, ReasonFuture)
}

// TestDropboxChallengeAndSignature: GET ?challenge= is echoed as
// text/plain with nosniff; notifications need X-Dropbox-Signature.
func TestDropboxChallengeAndSignature(t *testing.T) {
	cfg := presetCfg(t, "dropbox", "dbx-secret")
	res, err := Verify(cfg, getReq(url.Values{"challenge": {"abc123"}}, nil), testNow)
	rep := wantReply(t, res, err, "text/plain; charset=utf-8", "abc123")
	if rep.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers %v", rep.Header)
	}
	res, err = Verify(cfg, getReq(url.Values{}, nil), testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMissingHeader)
	body := `{"list_folder":{"accounts":["dbid:1"]}}`
	ok := Request{Header: hdr("X-Dropbox-Signature", macHex(sha256.New, "dbx-secret", body)), Body: []byte(body)}
	if _, err := Verify(cfg, ok, testNow); err != nil {
		t.Fatalf("notification refused: %v", err)
	}
	ok.Body = []byte(body + "\n")
	res, err = Verify(cfg, ok, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
}

// TestOktaVerificationChallengeAndAuthorization: the GET challenge is
// answered {"verification":…}; events need the configured Authorization.
func TestOktaVerificationChallengeAndAuthorization(t *testing.T) {
	cfg := presetCfg(t, "okta", "Bearer okta-hook-secret")
	res, err := Verify(cfg, getReq(nil, hdr("X-Okta-Verification-Challenge", `chal"lenge`)), testNow)
	wantReply(t, res, err, "application/json", `{"verification":"chal\"lenge"}`)
	res, err = Verify(cfg, getReq(nil, nil), testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMissingHeader)
	body := `{"eventType":"com.okta.event_hook","eventId":"okta-evt-1"}`
	got, err := Verify(cfg, Request{Header: hdr("Authorization", "Bearer okta-hook-secret"), Body: []byte(body)}, testNow)
	if err != nil || got.EventID != "okta-evt-1" {
		t.Fatalf("event: %+v %v", got, err)
	}
	res, err = Verify(cfg, Request{Header: hdr("Authorization", "Bearer wrong"), Body: []byte(body)}, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
	res, err = Verify(cfg, Request{Header: http.Header{}, Body: []byte(body)}, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMissingHeader)
}

// TestMSGraphValidationTokenAndClientState: ?validationToken= is
// answered as text/plain; a notification batch passes only when every
// item carries a configured clientState.
func TestMSGraphValidationTokenAndClientState(t *testing.T) {
	cfg := presetCfg(t, "msgraph", "client-state-1")
	res, err := Verify(cfg, Request{Query: url.Values{"validationToken": {"Validation: Testing client application reachability for subscription Request-Id: 1"}}, Header: http.Header{}}, testNow)
	wantReply(t, res, err, "text/plain; charset=utf-8", "Validation: Testing client application reachability for subscription Request-Id: 1")
	good := `{"value":[{"subscriptionId":"s","clientState":"client-state-1"},{"subscriptionId":"s","clientState":"client-state-1"}]}`
	if _, err := Verify(cfg, Request{Header: http.Header{}, Body: []byte(good)}, testNow); err != nil {
		t.Fatalf("notifications refused: %v", err)
	}
	mixed := `{"value":[{"clientState":"client-state-1"},{"clientState":"other"}]}`
	res, err = Verify(cfg, Request{Header: http.Header{}, Body: []byte(mixed)}, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
	for _, b := range []string{`{"value":[{"subscriptionId":"s"}]}`, `{"value":[]}`, `not json`} {
		res, err = Verify(cfg, Request{Header: http.Header{}, Body: []byte(b)}, testNow)
		refused(t, res, err, ErrSignatureInvalid, ReasonMissingHeader)
	}
}

// TestAsanaHandshakeCapturesOnlyIntoAnEmptySource: a source without
// secrets captures X-Hook-Secret; one with secrets echoes only a secret
// it has and refuses another; events need X-Hook-Signature.
func TestAsanaHandshakeCapturesOnlyIntoAnEmptySource(t *testing.T) {
	empty := presetCfg(t, "asana")
	res, err := Verify(empty, Request{Header: hdr("X-Hook-Secret", "asana-s1")}, testNow)
	rep := wantReply(t, res, err, "", "")
	if rep.CaptureSecret != "asana-s1" || rep.Header.Get("X-Hook-Secret") != "asana-s1" {
		t.Fatalf("reply %+v", rep)
	}
	res, err = Verify(empty, Request{Header: hdr("X-Hook-Signature", "abcd"), Body: []byte("{}")}, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMissingHeader)

	set := presetCfg(t, "asana", "asana-s1")
	res, err = Verify(set, Request{Header: hdr("X-Hook-Secret", "asana-s1")}, testNow)
	rep = wantReply(t, res, err, "", "")
	if rep.CaptureSecret != "" || rep.Header.Get("X-Hook-Secret") != "asana-s1" {
		t.Fatalf("repeated handshake %+v", rep)
	}
	res, err = Verify(set, Request{Header: hdr("X-Hook-Secret", "attacker")}, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
	body := `{"events":[{"action":"changed"}]}`
	ev := Request{Header: hdr("X-Hook-Signature", macHex(sha256.New, "asana-s1", body)), Body: []byte(body)}
	if _, err := Verify(set, ev, testNow); err != nil {
		t.Fatalf("event refused: %v", err)
	}
	ev.Body = []byte(`{"events":[]}`)
	res, err = Verify(set, ev, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
}

func netlifyJWS(secret, header, claims string) string {
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	return signed + "." + enc.EncodeToString(mac(sha256.New, secret, signed))
}

// TestNetlifyJWSSignature: a JWS (HS256) whose claims are iss netlify and
// the body's SHA-256 is accepted; another body, another secret, another
// issuer or alg none are refused.
func TestNetlifyJWSSignature(t *testing.T) {
	cfg := presetCfg(t, "netlify", "jws-secret")
	body := `{"id":"deploy-1","state":"ready"}`
	sum := sha256.Sum256([]byte(body))
	claims := `{"iss":"netlify","sha256":"` + hex.EncodeToString(sum[:]) + `"}`
	h := `{"alg":"HS256","typ":"JWT"}`
	if _, err := Verify(cfg, Request{Header: hdr("X-Webhook-Signature", netlifyJWS("jws-secret", h, claims)), Body: []byte(body)}, testNow); err != nil {
		t.Fatalf("refused: %v", err)
	}
	res, err := Verify(cfg, Request{Header: hdr("X-Webhook-Signature", netlifyJWS("jws-secret", h, claims)), Body: []byte(body + " ")}, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
	res, err = Verify(cfg, Request{Header: hdr("X-Webhook-Signature", netlifyJWS("other", h, claims)), Body: []byte(body)}, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMismatch)
	otherIss := `{"iss":"evil","sha256":"` + hex.EncodeToString(sum[:]) + `"}`
	res, err = Verify(cfg, Request{Header: hdr("X-Webhook-Signature", netlifyJWS("jws-secret", h, otherIss)), Body: []byte(body)}, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMalformedHeader)
	res, err = Verify(cfg, Request{Header: hdr("X-Webhook-Signature", netlifyJWS("jws-secret", `{"alg":"none"}`, claims)), Body: []byte(body)}, testNow)
	refused(t, res, err, ErrSignatureInvalid, ReasonMalformedHeader)
}
