package ingest

import (
	"crypto/sha256"
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestSignProducesHeadersVerifyAccepts(t *testing.T) {
	body := []byte(`{"id":"evt_sign","event_id":"Ev_sign","data":{"n":1}}`)
	cases := []struct {
		name    string
		verify  VerifyConfig
		secret  string
		eventID string
		wantID  string
	}{
		{"none", VerifyConfig{Type: "none"}, "", "", ""},
		{"token", VerifyConfig{Type: "token", Secrets: secrets("tok")}, "tok", "", ""},
		{"basic", VerifyConfig{Type: "basic", Secrets: secrets("u:p")}, "u:p", "", ""},
		{"hmac default", VerifyConfig{Type: "hmac", Header: "X-Sig", Secrets: secrets("k")}, "k", "", ""},
		{"hmac sha1 base64 prefix", VerifyConfig{Type: "hmac", Header: "X-Sig", Algorithm: "sha1", Encoding: "base64", Prefix: "sha1=", Secrets: secrets("k")}, "k", "", ""},
		{"hmac sha512", VerifyConfig{Type: "hmac", Header: "X-Sig", Algorithm: "sha512", Secrets: secrets("k")}, "k", "", ""},
		{"github", VerifyConfig{Type: "github", Secrets: secrets("k")}, "k", "d-1", "d-1"},
		{"stripe", VerifyConfig{Type: "stripe", Secrets: secrets("whsec_x")}, "whsec_x", "", "evt_sign"},
		{"shopify", VerifyConfig{Type: "shopify", Secrets: secrets("k")}, "k", "s-1", "s-1"},
		{"slack", VerifyConfig{Type: "slack", Secrets: secrets("k")}, "k", "", "Ev_sign"},
		{"standard", VerifyConfig{Type: "standard", Secrets: secrets("whsec_a2V5LWJ5dGVz")}, "whsec_a2V5LWJ5dGVz", "msg_1", "msg_1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := SourceConfig{Queues: []string{"q"}, Verify: tc.verify}
			if err := cfg.Normalize(); err != nil {
				t.Fatal(err)
			}
			h, err := Sign(&cfg, tc.secret, body, testNow, tc.eventID)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			res, err := Verify(&cfg, Request{Header: h, Body: body}, testNow)
			if err != nil {
				t.Fatalf("Verify refused what Sign produced: %v", err)
			}
			if res.EventID != tc.wantID {
				t.Fatalf("event id = %q, want %q", res.EventID, tc.wantID)
			}
			if tc.verify.Type == "none" {
				if len(h) != 0 {
					t.Fatalf("none signed headers %v, want none", h)
				}
				return
			}
			// And a different body under the same headers is refused.
			if _, err := Verify(&cfg, Request{Header: h, Body: append([]byte("x"), body...)}, testNow); tc.verify.Type != "token" && tc.verify.Type != "basic" && !errors.Is(err, ErrSignatureInvalid) {
				t.Fatalf("Verify accepted a different body under Sign's headers: %v", err)
			}
		})
	}
}

func TestSignMatchesPublishedSchemes(t *testing.T) {
	body := []byte("payload")
	ts := strconv.FormatInt(testNow.Unix(), 10)
	cases := []struct {
		typ, secret, header, want string
	}{
		{"github", "k", "X-Hub-Signature-256", "sha256=" + macHex(sha256.New, "k", "payload")},
		{"stripe", "k", "Stripe-Signature", "t=" + ts + ",v1=" + macHex(sha256.New, "k", ts+".payload")},
		{"shopify", "k", "X-Shopify-Hmac-Sha256", macB64(sha256.New, "k", "payload")},
		{"slack", "k", "X-Slack-Signature", "v0=" + macHex(sha256.New, "k", "v0:"+ts+":payload")},
		{"slack", "k", "X-Slack-Request-Timestamp", ts},
		{"standard", "whsec_a2V5", "webhook-signature", standardSig("whsec_a2V5", "m1", ts, "payload")},
		{"standard", "whsec_a2V5", "webhook-timestamp", ts},
		{"standard", "whsec_a2V5", "webhook-id", "m1"},
		{"token", "tok", "X-Webhook-Token", "tok"},
		{"basic", "u:p", "Authorization", "Basic dTpw"},
	}
	for _, tc := range cases {
		cfg := SourceConfig{Verify: VerifyConfig{Type: tc.typ}}
		h, err := Sign(&cfg, tc.secret, body, testNow, "m1")
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		if got := h.Get(tc.header); got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.typ, tc.header, got, tc.want)
		}
	}
}

func TestSignRefusesWhatItCannotSign(t *testing.T) {
	cases := []struct {
		name    string
		cfg     SourceConfig
		secret  string
		eventID string
		want    error
	}{
		{"unknown type", SourceConfig{Verify: VerifyConfig{Type: "paypal"}}, "k", "", ErrInvalidConfig},
		{"empty secret", SourceConfig{Verify: VerifyConfig{Type: "github"}}, "", "", ErrCannotSign},
		{"standard without id", SourceConfig{Verify: VerifyConfig{Type: "standard"}}, "whsec_a2V5", "", ErrCannotSign},
		{"standard secret not base64", SourceConfig{Verify: VerifyConfig{Type: "standard"}}, "whsec_!!", "m", ErrInvalidConfig},
		{"hmac without header", SourceConfig{Verify: VerifyConfig{Type: "hmac"}}, "k", "", ErrInvalidConfig},
		{"hmac bad algorithm", SourceConfig{Verify: VerifyConfig{Type: "hmac", Header: "X", Algorithm: "md5"}}, "k", "", ErrInvalidConfig},
		{"hmac bad encoding", SourceConfig{Verify: VerifyConfig{Type: "hmac", Header: "X", Encoding: "b32"}}, "k", "", ErrInvalidConfig},
	}
	for _, tc := range cases {
		if _, err := Sign(&tc.cfg, tc.secret, nil, testNow, tc.eventID); !errors.Is(err, tc.want) {
			t.Errorf("%s: Sign = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := Sign(nil, "k", nil, time.Time{}, ""); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("nil cfg: Sign = %v", err)
	}
}
