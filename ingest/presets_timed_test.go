package ingest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requestVector is a provider's request computed in the test from its
// documented algorithm (independently of the verifiers).
type requestVector struct {
	typ     string
	body    string
	timed   bool // has a signed timestamp
	covers  bool // the signature covers the body (false: Mailgun)
	build   func(secret, body string, at time.Time) Request
	wantID  string
	missing string // a header whose absence is missing_header
}

const presetURL = "https://hooks.example.com/hooks/src?tenant=a%2Fb"

func requestPresetVectors() []requestVector {
	return []requestVector{
		{typ: "paddle", body: `{"event_id":"evt_01p","event_type":"price.created"}`, timed: true, covers: true, wantID: "evt_01p", missing: "Paddle-Signature",
			build: func(s, b string, at time.Time) Request {
				ts := strconv.FormatInt(at.Unix(), 10)
				return Request{Header: hdr("Paddle-Signature", "ts="+ts+";h1="+macHex(sha256.New, s, ts+":"+b))}
			}},
		{typ: "calendly", body: `{"event":"invitee.created"}`, timed: true, covers: true, missing: "Calendly-Webhook-Signature",
			build: func(s, b string, at time.Time) Request {
				ts := strconv.FormatInt(at.Unix(), 10)
				return Request{Header: hdr("Calendly-Webhook-Signature", "t="+ts+",v1="+macHex(sha256.New, s, ts+"."+b))}
			}},
		{typ: "mux", body: `{"id":"mux-evt-1","type":"video.asset.ready"}`, timed: true, covers: true, wantID: "mux-evt-1", missing: "Mux-Signature",
			build: func(s, b string, at time.Time) Request {
				ts := strconv.FormatInt(at.Unix(), 10)
				return Request{Header: hdr("Mux-Signature", "t="+ts+",v1="+macHex(sha256.New, s, ts+"."+b))}
			}},
		{typ: "zendesk", body: `{"type":"zen:event-type:ticket.created"}`, timed: true, covers: true, wantID: "zd-inv-1", missing: "X-Zendesk-Webhook-Signature",
			build: func(s, b string, at time.Time) Request {
				ts := at.UTC().Format("2006-01-02T15:04:05Z")
				return Request{Header: hdr("X-Zendesk-Webhook-Signature", macB64(sha256.New, s, ts+b),
					"X-Zendesk-Webhook-Signature-Timestamp", ts, "X-Zendesk-Webhook-Invocation-Id", "zd-inv-1")}
			}},
		{typ: "linear", body: `{"action":"create","type":"Issue","webhookTimestamp":%MS%}`, timed: true, covers: true, wantID: "lin-del-1", missing: "Linear-Signature",
			build: func(s, b string, at time.Time) Request {
				return Request{Header: hdr("Linear-Signature", macHex(sha256.New, s, b), "Linear-Delivery", "lin-del-1")}
			}},
		{typ: "hubspot", body: `[{"eventId":1,"subscriptionType":"contact.creation"}]`, timed: true, covers: true, missing: "X-HubSpot-Signature-v3",
			build: func(s, b string, at time.Time) Request {
				ms := strconv.FormatInt(at.UnixMilli(), 10)
				// HubSpot signs the URI with %2F decoded.
				uri := strings.ReplaceAll(presetURL, "%2F", "/")
				return Request{Method: "POST", URL: presetURL, Header: hdr("X-HubSpot-Signature-v3", macB64(sha256.New, s, "POST"+uri+b+ms),
					"X-HubSpot-Request-Timestamp", ms)}
			}},
		{typ: "square", body: `{"event_id":"sq-evt-1","type":"payment.updated"}`, covers: true, wantID: "sq-evt-1", missing: "X-Square-Hmacsha256-Signature",
			build: func(s, b string, at time.Time) Request {
				return Request{URL: presetURL, Header: hdr("x-square-hmacsha256-signature", macB64(sha256.New, s, presetURL+b))}
			}},
		{typ: "twilio", body: "To=%2B18005551212&From=%2B14158675309&Body=hello", covers: true, wantID: "tw-idem-1", missing: "X-Twilio-Signature",
			build: func(s, b string, at time.Time) Request {
				// Form parameters appended as name+value, sorted.
				signed := presetURL + "BodyhelloFrom+14158675309To+18005551212"
				return Request{URL: presetURL, Header: hdr("X-Twilio-Signature", macB64(sha1.New, s, signed),
					"Content-Type", "application/x-www-form-urlencoded", "I-Twilio-Idempotency-Token", "tw-idem-1")}
			}},
		{typ: "mailgun", body: `{"signature":{"timestamp":"%TS%","token":"tok-1","signature":"%SIG%"},"event-data":{"id":"mg-evt-1","event":"delivered"}}`,
			timed: true, wantID: "mg-evt-1",
			build: func(s, b string, at time.Time) Request { return Request{} }},
	}
}

// materialize fills a vector's body placeholders and builds its request.
func (v requestVector) materialize(secret string, at time.Time) Request {
	body := strings.ReplaceAll(v.body, "%MS%", strconv.FormatInt(at.UnixMilli(), 10))
	ts := strconv.FormatInt(at.Unix(), 10)
	body = strings.ReplaceAll(body, "%TS%", ts)
	body = strings.ReplaceAll(body, "%SIG%", macHex(sha256.New, secret, ts+"tok-1"))
	req := v.build(secret, body, at)
	req.Body = []byte(body)
	if req.Header == nil {
		req.Header = http.Header{}
	}
	return req
}

// TestRequestPresetsAcceptTheirProviderSignature: each preset accepts a
// request built from its provider's documented algorithm, with a second
// secret configured, and extracts the provider's event id.
func TestRequestPresetsAcceptTheirProviderSignature(t *testing.T) {
	for _, v := range requestPresetVectors() {
		t.Run(v.typ, func(t *testing.T) {
			cfg := presetCfg(t, v.typ, "rotated-out-secret", presetSecret)
			res, err := Verify(cfg, v.materialize(presetSecret, testNow), testNow.Add(time.Second))
			if err != nil {
				t.Fatalf("Verify refused the provider's signature: %v", err)
			}
			if res.EventID != v.wantID {
				t.Fatalf("event id %q, want %q", res.EventID, v.wantID)
			}
		})
	}
}

// TestRequestPresetsRefuse: tampered body (where the signature covers
// it), wrong secret and no signature are 401 signature_invalid with their
// reasons; for the timed presets, a valid signature 6 minutes old is
// stale and 6 minutes ahead is future (tolerance 300s).
func TestRequestPresetsRefuse(t *testing.T) {
	for _, v := range requestPresetVectors() {
		t.Run(v.typ, func(t *testing.T) {
			cfg := presetCfg(t, v.typ, presetSecret)
			good := v.materialize(presetSecret, testNow)
			if v.covers {
				tampered := good
				tampered.Body = []byte(strings.Replace(string(good.Body), "e", "E", 1))
				_, err := Verify(cfg, tampered, testNow)
				checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
			}
			_, err := Verify(cfg, v.materialize("wrong-secret", testNow), testNow)
			checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
			if v.missing != "" {
				bare := good
				bare.Header = good.Header.Clone()
				bare.Header.Del(v.missing)
				_, err := Verify(cfg, bare, testNow)
				checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMissingHeader, Result{})
			}
			if v.timed {
				_, err := Verify(cfg, good, testNow.Add(6*time.Minute))
				checkVerify(t, Result{}, err, ErrTimestampOutOfWindow, ReasonStale, Result{})
				_, err = Verify(cfg, good, testNow.Add(-6*time.Minute))
				checkVerify(t, Result{}, err, ErrTimestampOutOfWindow, ReasonFuture, Result{})
				if _, err := Verify(cfg, good, testNow.Add(5*time.Minute)); err != nil {
					t.Fatalf("exactly the tolerance away was refused: %v", err)
				}
			}
		})
	}
}

// TestURLPresetsRefuseAnotherURLOrMethod: hubspot, square and twilio sign
// the URL (hubspot the method too): the same signature sent to another URL
// is a mismatch.
func TestURLPresetsRefuseAnotherURLOrMethod(t *testing.T) {
	for _, v := range requestPresetVectors() {
		if v.typ != "hubspot" && v.typ != "square" && v.typ != "twilio" {
			continue
		}
		t.Run(v.typ, func(t *testing.T) {
			cfg := presetCfg(t, v.typ, presetSecret)
			req := v.materialize(presetSecret, testNow)
			req.URL = strings.Replace(req.URL, "tenant=", "tenant=x", 1)
			_, err := Verify(cfg, req, testNow)
			checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
			if v.typ == "hubspot" {
				req := v.materialize(presetSecret, testNow)
				req.Method = http.MethodPut
				_, err := Verify(cfg, req, testNow)
				checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
			}
		})
	}
}

// TestHubSpotDecodesTheDocumentedEscapesOnly: HubSpot's page lists the
// escapes it decodes before signing; others (%20) stay encoded.
func TestHubSpotDecodesTheDocumentedEscapesOnly(t *testing.T) {
	if got := hubspotDecode.Replace("https://x/a%3Ab%2Fc%3fd%40e%21%24%27%28%29%2A%2C%3B%20"); got != "https://x/a:b/c?d@e!$'()*,;%20" {
		t.Fatalf("decoded %q", got)
	}
}

// TestTwilioJSONBodySignsTheBodyHashInTheURL: for a JSON body Twilio
// signs the URL carrying bodySHA256; a body that does not hash to it is a
// mismatch even under a valid URL signature.
func TestTwilioJSONBodySignsTheBodyHashInTheURL(t *testing.T) {
	body := `{"property":"value"}`
	sum := sha256.Sum256([]byte(body))
	u := presetURL + "&bodySHA256=" + hex.EncodeToString(sum[:])
	h := hdr("X-Twilio-Signature", macB64(sha1.New, presetSecret, u), "Content-Type", "application/json")
	cfg := presetCfg(t, "twilio", presetSecret)
	if _, err := Verify(cfg, Request{URL: u, Header: h, Body: []byte(body)}, testNow); err != nil {
		t.Fatalf("refused: %v", err)
	}
	_, err := Verify(cfg, Request{URL: u, Header: h, Body: []byte(`{"property":"other"}`)}, testNow)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
}

// TestMailgunFormPostIsVerified: a form-encoded Mailgun post carries
// timestamp, token and signature as form fields.
func TestMailgunFormPostIsVerified(t *testing.T) {
	ts := strconv.FormatInt(testNow.Unix(), 10)
	form := url.Values{"timestamp": {ts}, "token": {"tok-9"}, "signature": {macHex(sha256.New, presetSecret, ts+"tok-9")}, "event": {"delivered"}}
	cfg := presetCfg(t, "mailgun", presetSecret)
	req := Request{Header: hdr("Content-Type", "application/x-www-form-urlencoded"), Body: []byte(form.Encode())}
	if _, err := Verify(cfg, req, testNow); err != nil {
		t.Fatalf("refused: %v", err)
	}
	req.Header = http.Header{}
	_, err := Verify(cfg, req, testNow)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMissingHeader, Result{})
}

// TestTimedPresetsRefuseMalformedTimestamps: a timestamp that is not
// what the provider sends is malformed_header, before any MAC is tried.
func TestTimedPresetsRefuseMalformedTimestamps(t *testing.T) {
	cases := []struct {
		typ string
		h   http.Header
	}{
		{"paddle", hdr("Paddle-Signature", "ts=01;h1=ab")},
		{"paddle", hdr("Paddle-Signature", "h1=ab")},
		{"paddle", hdr("Paddle-Signature", "ts=1;h1=zz")},
		{"mux", hdr("Mux-Signature", "t=-1,v1=ab")},
		{"zendesk", hdr("X-Zendesk-Webhook-Signature", "YWI=", "X-Zendesk-Webhook-Signature-Timestamp", "yesterday")},
		{"hubspot", hdr("X-HubSpot-Signature-v3", "YWI=", "X-HubSpot-Request-Timestamp", "1.5")},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			_, err := Verify(presetCfg(t, tc.typ, presetSecret), Request{Header: tc.h, Body: []byte("{}")}, testNow)
			checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMalformedHeader, Result{})
		})
	}
}
