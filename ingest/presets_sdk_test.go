package ingest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	paddle "github.com/PaddleHQ/paddle-go-sdk/v4"
	"github.com/mailgun/mailgun-go/v4"
	twilio "github.com/twilio/twilio-go/client"
)

// Vectors from, and cross-checks against, the providers' official Go SDKs
// (test-only imports).

// TestPaddleSDKExampleIsAccepted: the signed example of paddle-go-sdk's
// WebhookVerifier example (example_webhook_verifier_test.go).
func TestPaddleSDKExampleIsAccepted(t *testing.T) {
	const (
		sig    = `ts=1710929255;h1=6c05ef8fa83c44d751be6d259ec955ce5638e2c54095bf128e408e2fce1589c8`
		body   = `{"data":{"id":"pri_01hsdn96k2hxjzsq5yerecdj9j","name":null,"status":"active","quantity":{"maximum":999999,"minimum":1},"tax_mode":"account_setting","product_id":"pro_01hsdn8qp7yydry3x1yeg6a9rv","unit_price":{"amount":"1000","currency_code":"USD"},"custom_data":null,"description":"testing","import_meta":null,"trial_period":null,"billing_cycle":{"interval":"month","frequency":1},"unit_price_overrides":[]},"event_id":"evt_01hsdn97563968dy0szkmgjwh3","event_type":"price.created","occurred_at":"2024-03-20T10:07:35.590857Z","notification_id":"ntf_01hsdn977e920kbgzt6r6c9rqc"}`
		secret = `pdl_ntfset_01hsdn8d43dt7mezr1ef2jtbaw_hKkRiCGyyRhbFwIUuqiTBgI7gnWoV0Gr`
	)
	at := time.Unix(1710929255, 0)
	cfg := presetCfg(t, "paddle", secret)
	req := Request{Header: hdr("Paddle-Signature", sig), Body: []byte(body)}
	res, err := Verify(cfg, req, at)
	if err != nil {
		t.Fatalf("Verify refused Paddle's SDK example: %v", err)
	}
	if res.EventID != "evt_01hsdn97563968dy0szkmgjwh3" {
		t.Fatalf("event id %q", res.EventID)
	}
	_, err = Verify(cfg, req, at.Add(time.Hour))
	checkVerify(t, Result{}, err, ErrTimestampOutOfWindow, ReasonStale, Result{})
	_, err = Verify(presetCfg(t, "paddle", secret+"x"), req, at)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
}

// TestPaddleSDKValidatesOurSignature: what Sign produces for paddle is
// accepted by paddle-go-sdk's WebhookVerifier (with its replay check on).
func TestPaddleSDKValidatesOurSignature(t *testing.T) {
	const secret = "pdl_ntfset_ours"
	body := []byte(`{"event_id":"evt_ours","event_type":"price.created"}`)
	h, err := Sign(&SourceConfig{Verify: VerifyConfig{Type: "paddle"}}, secret, body, time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.NewRequest(http.MethodPost, "https://example.com/hooks/p", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header = h
	ok, err := paddle.NewWebhookVerifier(secret, paddle.VerifierWithTimestampTolerance(time.Minute)).Verify(r)
	if err != nil || !ok {
		t.Fatalf("paddle-go-sdk refused our signature: ok=%v err=%v", ok, err)
	}
}

// twilio-go's RequestValidator test vectors (client/request_validator_test.go).
const (
	twilioSDKToken = "12345"
	twilioSDKURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
)

var twilioSDKParams = url.Values{
	"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"}, "Caller": {"+14158675309"},
	"From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
}

// TestTwilioSDKVectorsAreAccepted: twilio-go's signed form and JSON
// requests, with the port variants its validator tries; the vector that
// sorts "ReasonConferenceEnded" before "Reason" is refused.
func TestTwilioSDKVectorsAreAccepted(t *testing.T) {
	cfg := presetCfg(t, "twilio", twilioSDKToken)
	form := hdr("Content-Type", "application/x-www-form-urlencoded")
	cases := []struct {
		name, url, sig, body string
		header               http.Header
		ok                   bool
	}{
		{"form", twilioSDKURL, "vOEb5UThFn24KEfnOFLQY2AE5FY=", twilioSDKParams.Encode(), form, true},
		{"form, port given, signed without", strings.Replace(twilioSDKURL, ".com", ".com:1234", 1), "vOEb5UThFn24KEfnOFLQY2AE5FY=", twilioSDKParams.Encode(), form, true},
		{"form, http with port", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", "n2xBNyzSW7rfYStDtOFiFMv7qNo=", twilioSDKParams.Encode(), form, true},
		{"form, wrongly sorted", twilioSDKURL, "95+Bu0JVPi0r/SsESZCVf0dWAjw=", twilioSDKParams.Encode(), form, false},
		{"json", twilioSDKURL + "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620", "a9nBmqA0ju/hNViExpshrM61xv4=", `{"property": "value", "boolean": true}`, hdr("Content-Type", "application/json"), true},
		{"json, only bodySHA256", "https://mycompany.com/myapp.php?bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620", "y77kIzt2vzLz71DgmJGsen2scGs=", `{"property": "value", "boolean": true}`, hdr("Content-Type", "application/json"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header.Clone()
			h.Set("X-Twilio-Signature", tc.sig)
			_, err := Verify(cfg, Request{URL: tc.url, Header: h, Body: []byte(tc.body)}, testNow)
			if tc.ok && err != nil {
				t.Fatalf("Verify refused twilio-go's vector: %v", err)
			}
			if !tc.ok {
				checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
			}
		})
	}
}

// TestTwilioSDKValidatesOurSignature: twilio-go's RequestValidator
// accepts what SignRequest produces, for a form body and a JSON body.
func TestTwilioSDKValidatesOurSignature(t *testing.T) {
	cfg := &SourceConfig{Verify: VerifyConfig{Type: "twilio"}}
	v := twilio.NewRequestValidator("tok-ours")
	formBody := []byte(twilioSDKParams.Encode())
	s, err := SignRequest(cfg, "tok-ours", http.MethodPost, twilioSDKURL, formBody, testNow, "")
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for k := range twilioSDKParams {
		params[k] = twilioSDKParams.Get(k)
	}
	if !v.Validate(s.URL, params, s.Header.Get("X-Twilio-Signature")) {
		t.Fatal("twilio-go refused our form signature")
	}
	jsonBody := []byte(`{"a":1}`)
	s, err = SignRequest(cfg, "tok-ours", http.MethodPost, twilioSDKURL, jsonBody, testNow, "")
	if err != nil {
		t.Fatal(err)
	}
	if !v.ValidateBody(s.URL, jsonBody, s.Header.Get("X-Twilio-Signature")) {
		t.Fatalf("twilio-go refused our JSON signature (url %s)", s.URL)
	}
}

// TestMailgunSDKValidatesOurSignature: mailgun-go's
// VerifyWebhookSignature accepts the signature SignRequest puts in the
// body, and Verify accepts the same body.
func TestMailgunSDKValidatesOurSignature(t *testing.T) {
	const key = "mg-signing-key"
	cfg := presetCfg(t, "mailgun", key)
	s, err := SignRequest(cfg, key, http.MethodPost, "", []byte(`{"event-data":{"id":"mg-1"}}`), testNow, "")
	if err != nil {
		t.Fatal(err)
	}
	var payload mailgun.WebhookPayload
	if err := json.Unmarshal(s.Body, &payload); err != nil {
		t.Fatal(err)
	}
	mg := mailgun.NewMailgun("example.com", "api-key")
	mg.SetWebhookSigningKey(key)
	if ok, err := mg.VerifyWebhookSignature(payload.Signature); err != nil || !ok {
		t.Fatalf("mailgun-go refused our signature: ok=%v err=%v", ok, err)
	}
	res, err := Verify(cfg, Request{Header: s.Header, Body: s.Body}, testNow)
	if err != nil || res.EventID != "mg-1" {
		t.Fatalf("Verify: %+v, %v", res, err)
	}
}

// TestTwilioUnsignedBodyIsRefused: a Twilio signature covers the body only
// through the sorted form parameters or the URL's bodySHA256. A request
// that is neither (a JSON body without bodySHA256) must not be accepted on
// a MAC of the URL alone: otherwise twilio-go's signed form request,
// replayed with its sorted parameters moved onto the end of the URL's
// query, carries any body the sender likes.
func TestTwilioUnsignedBodyIsRefused(t *testing.T) {
	cfg := presetCfg(t, "twilio", twilioSDKToken)
	forgedURL := twilioSDKURL + string(twilioSortedParams(twilioSDKParams))
	h := hdr("Content-Type", "application/json", "X-Twilio-Signature", "vOEb5UThFn24KEfnOFLQY2AE5FY=")
	res, err := Verify(cfg, Request{URL: forgedURL, Header: h, Body: []byte(`{"forged":true}`)}, testNow)
	checkVerify(t, res, err, ErrSignatureInvalid, ReasonMismatch, Result{})
}
