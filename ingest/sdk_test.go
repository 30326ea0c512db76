package ingest

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-github/v74/github"
	"github.com/slack-go/slack"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Cross-checks against the providers' official SDKs (test-only imports):
// what they sign we accept, and what we sign they accept. The SDK verifiers
// read the real clock, so those directions sign at time.Now().

func TestStripeSDKSignedPayloadIsAccepted(t *testing.T) {
	const secret = "whsec_stripe_sdk_test"
	payload := []byte(`{"id":"evt_sdk_1","object":"event","type":"invoice.paid"}`)
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: testNow})
	cfg := SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "stripe", Secrets: []string{"whsec_other", secret}}}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	req := Request{Header: hdr("Stripe-Signature", signed.Header), Body: signed.Payload}
	res, err := Verify(&cfg, req, testNow.Add(time.Minute))
	if err != nil {
		t.Fatalf("Verify refused stripe-go's signed payload: %v", err)
	}
	if res.EventID != "evt_sdk_1" {
		t.Fatalf("event id = %q", res.EventID)
	}
	tampered := append([]byte(nil), payload...)
	tampered[len(tampered)-3] ^= 1
	if _, err := Verify(&cfg, Request{Header: req.Header, Body: tampered}, testNow); Reason(err) != ReasonMismatch {
		t.Fatalf("tampered stripe-go payload: %v, want mismatch", err)
	}
	if _, err := Verify(&cfg, req, testNow.Add(10*time.Minute)); !errors.Is(err, ErrTimestampOutOfWindow) {
		t.Fatalf("old stripe-go payload: %v, want timestamp_out_of_window", err)
	}
}

func TestStripeSDKValidatesOurSignature(t *testing.T) {
	const secret = "whsec_ours"
	payload := []byte(`{"id":"evt_ours"}`)
	cfg := SourceConfig{Verify: VerifyConfig{Type: "stripe"}}
	h, err := Sign(&cfg, secret, payload, time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := webhook.ValidatePayload(payload, h.Get("Stripe-Signature"), secret); err != nil {
		t.Fatalf("stripe-go refused our signature: %v", err)
	}
}

func TestStandardWebhooksSDKSignatureIsAccepted(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	payload := []byte(`{"type":"user.created","data":{"id":"u_1"}}`)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign("msg_sdk_1", testNow, payload)
	if err != nil {
		t.Fatal(err)
	}
	cfg := SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "standard", Secrets: []string{secret}}}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(testNow.Unix(), 10)
	for _, prefix := range []string{"webhook", "svix"} {
		h := hdr(prefix+"-id", "msg_sdk_1", prefix+"-timestamp", ts, prefix+"-signature", sig)
		res, err := Verify(&cfg, Request{Header: h, Body: payload}, testNow)
		if err != nil {
			t.Fatalf("%s-*: Verify refused the library's signature: %v", prefix, err)
		}
		if res.EventID != "msg_sdk_1" {
			t.Fatalf("event id = %q", res.EventID)
		}
		if _, err := Verify(&cfg, Request{Header: h, Body: append(payload, ' ')}, testNow); Reason(err) != ReasonMismatch {
			t.Fatalf("%s-*: tampered body: %v", prefix, err)
		}
	}
}

func TestStandardWebhooksSDKVerifiesOurSignature(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	payload := []byte(`{"ok":true}`)
	h, err := Sign(&SourceConfig{Verify: VerifyConfig{Type: "standard"}}, secret, payload, time.Now(), "msg_ours")
	if err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(payload, h); err != nil {
		t.Fatalf("standard-webhooks refused our signature: %v", err)
	}
}

func TestGoGitHubValidatesOurSignature(t *testing.T) {
	const secret = "gh-webhook-secret"
	payload := []byte(`{"zen":"Keep it logically awesome."}`)
	h, err := Sign(&SourceConfig{Verify: VerifyConfig{Type: "github"}}, secret, payload, testNow, "d-1")
	if err != nil {
		t.Fatal(err)
	}
	sig := h.Get("X-Hub-Signature-256")
	if err := github.ValidateSignature(sig, payload, []byte(secret)); err != nil {
		t.Fatalf("go-github refused our signature: %v", err)
	}
	if err := github.ValidateSignature(sig, append(payload, '!'), []byte(secret)); err == nil {
		t.Fatal("go-github accepted a tampered payload: the cross-check is vacuous")
	}
}

func TestSlackGoVerifiesOurSignature(t *testing.T) {
	const secret = "slack-signing-secret"
	payload := []byte(`{"type":"event_callback","event_id":"Ev1"}`)
	h, err := Sign(&SourceConfig{Verify: VerifyConfig{Type: "slack"}}, secret, payload, time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	check := func(body []byte) error {
		sv, err := slack.NewSecretsVerifier(http.Header(h), secret)
		if err != nil {
			return err
		}
		if _, err := sv.Write(body); err != nil {
			return err
		}
		return sv.Ensure()
	}
	if err := check(payload); err != nil {
		t.Fatalf("slack-go refused our signature: %v", err)
	}
	if err := check(append(payload, ' ')); err == nil {
		t.Fatal("slack-go accepted a tampered payload: the cross-check is vacuous")
	}
}
