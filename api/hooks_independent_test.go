package api_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hookq/hookq/ingest"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Signatures computed here from the providers' documentation (and, for
// Stripe, by stripe-go itself) rather than by ingest.Sign, so a bug shared
// by Sign and Verify cannot hide.

func mac(newHash func() hash.Hash, key []byte, msg string) []byte {
	m := hmac.New(newHash, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func TestHookAcceptsIndependentlyComputedSignatures(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	stdKey := []byte("independent standard key")
	stdSecret := "whsec_" + base64.StdEncoding.EncodeToString(stdKey)

	stripeBody := `{"id":"evt_indep_1","object":"event"}`
	sdk := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: []byte(`{"id":"evt_sdk_1","object":"event"}`), Secret: "whsec_stripe_raw", Timestamp: now,
	})

	cases := []struct {
		name        string
		verify      ingest.VerifyConfig
		body        string
		h           http.Header
		wantEventID string
	}{
		{
			name:   "github",
			verify: ingest.VerifyConfig{Type: "github", Secrets: []string{"It's a Secret to Everybody"}},
			body:   "Hello, World!",
			// The example from GitHub's "Validating webhook deliveries" guide.
			h: hookHeader("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
				"X-GitHub-Delivery", "gh-indep-1"),
			wantEventID: "gh-indep-1",
		},
		{
			name:   "stripe-by-hand",
			verify: ingest.VerifyConfig{Type: "stripe", Secrets: []string{"whsec_stripe_raw"}},
			body:   stripeBody,
			// The whsec_ secret is the HMAC key as a raw string, not base64.
			h: hookHeader("Stripe-Signature", "t="+ts+",v1="+hex.EncodeToString(mac(sha256.New, []byte("whsec_stripe_raw"), ts+"."+stripeBody))+
				",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"),
			wantEventID: "evt_indep_1",
		},
		{
			name:        "stripe-go-sdk",
			verify:      ingest.VerifyConfig{Type: "stripe", Secrets: []string{"whsec_stripe_raw"}},
			body:        string(sdk.Payload),
			h:           hookHeader("Stripe-Signature", sdk.Header),
			wantEventID: "evt_sdk_1",
		},
		{
			name:   "shopify",
			verify: ingest.VerifyConfig{Type: "shopify", Secrets: []string{"shpss_indep"}},
			body:   `{"id":1}`,
			h: hookHeader("X-Shopify-Hmac-Sha256", base64.StdEncoding.EncodeToString(mac(sha256.New, []byte("shpss_indep"), `{"id":1}`)),
				"X-Shopify-Event-Id", "shop-indep-1"),
			wantEventID: "shop-indep-1",
		},
		{
			name:   "slack",
			verify: ingest.VerifyConfig{Type: "slack", Secrets: []string{"8f742231b10e8888abcd99yyyzzz85a5"}},
			body:   `{"type":"event_callback","event_id":"Ev-indep"}`,
			h: hookHeader("X-Slack-Request-Timestamp", ts,
				"X-Slack-Signature", "v0="+hex.EncodeToString(mac(sha256.New, []byte("8f742231b10e8888abcd99yyyzzz85a5"), "v0:"+ts+`:{"type":"event_callback","event_id":"Ev-indep"}`))),
			wantEventID: "Ev-indep",
		},
		{
			name:   "standard",
			verify: ingest.VerifyConfig{Type: "standard", Secrets: []string{stdSecret}},
			body:   `{"type":"invoice.paid"}`,
			// The key is the base64-decoded part after whsec_; several
			// space-separated signatures, one of them valid.
			h: hookHeader("webhook-id", "msg_indep", "webhook-timestamp", ts,
				"webhook-signature", "v1,Zm9v v1,"+base64.StdEncoding.EncodeToString(mac(sha256.New, stdKey, "msg_indep."+ts+`.{"type":"invoice.paid"}`))),
			wantEventID: "msg_indep",
		},
		{
			name:   "hmac-sha1-hex",
			verify: ingest.VerifyConfig{Type: "hmac", Secrets: []string{"k1"}, Header: "X-Sig", Algorithm: "sha1", Prefix: "sha1="},
			body:   "payload",
			h:      hookHeader("X-Sig", "sha1="+hex.EncodeToString(mac(sha1.New, []byte("k1"), "payload"))),
		},
		{
			name:   "hmac-sha512-base64",
			verify: ingest.VerifyConfig{Type: "hmac", Secrets: []string{"k5"}, Header: "X-Sig", Algorithm: "sha512", Encoding: "base64"},
			body:   "payload",
			h:      hookHeader("X-Sig", base64.StdEncoding.EncodeToString(mac(sha512.New, []byte("k5"), "payload"))),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.hookFor(t)
			e.hookPipe(c.name, ingest.SourceConfig{Verify: c.verify})
			reply := e.hookOK(c.name, []byte(c.body), c.h, false)
			got := e.hookNext(c.name)
			if got.meta.MessageID != reply.MessageID || got.meta.EventID != c.wantEventID || string(got.body) != c.body {
				t.Fatalf("stored meta %+v body %q, want eventId %q body %q", got.meta, got.body, c.wantEventID, c.body)
			}
		})
	}
}
