package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDedupKeyRules(t *testing.T) {
	body := `{"id":"evt_1","data":{"id":42,"obj":{"b": [1, 2],"a":null},"n":null,"f":1.50,"t":true,"s":"x/y"},"a/b":"slash","m~n":"tilde","list":["zero","one"]}`
	long := strings.Repeat("k", MaxDedupKeyLen+1)
	longSum := sha256.Sum256([]byte(long))
	h := hdr("X-Request-Id", "req-7", "X-Long", long)
	cases := []struct {
		name string
		typ  string
		rule string
		body string
		want string
	}{
		{"provider for stripe is body id", "stripe", "provider", body, "evt_1"},
		{"provider for token is empty", "token", "provider", body, ""},
		{"provider for hmac is empty", "hmac", "provider", body, ""},
		{"none", "stripe", "none", body, ""},
		{"header present", "none", "header:X-Request-Id", body, "req-7"},
		{"header name is case-insensitive", "none", "header:x-request-id", body, "req-7"},
		{"header absent", "none", "header:X-Missing", body, ""},
		{"long header is hashed", "none", "header:X-Long", body, "sha256:" + hex.EncodeToString(longSum[:])},
		{"json string", "none", "json:/id", body, "evt_1"},
		{"json number as text", "none", "json:/data/id", body, "42"},
		{"json number keeps its spelling", "none", "json:/data/f", body, "1.50"},
		{"json bool", "none", "json:/data/t", body, "true"},
		{"json object compact", "none", "json:/data/obj", body, `{"b":[1,2],"a":null}`},
		{"json null is no key", "none", "json:/data/n", body, ""},
		{"json string containing slash", "none", "json:/data/s", body, "x/y"},
		{"json ~1 escape", "none", "json:/a~1b", body, "slash"},
		{"json ~0 escape", "none", "json:/m~0n", body, "tilde"},
		{"json array index", "none", "json:/list/1", body, "one"},
		{"json array index out of range", "none", "json:/list/2", body, ""},
		{"json array index leading zero", "none", "json:/list/01", body, ""},
		{"json array index not a number", "none", "json:/list/-", body, ""},
		{"json absent", "none", "json:/nope", body, ""},
		{"json step into a string", "none", "json:/id/x", body, ""},
		{"json body not JSON", "none", "json:/id", "id=evt_1", ""},
		{"json truncated body", "none", "json:/id", body[:20], ""},
		{"json whole document", "none", "json:", `{ "a" : 1 }`, `{"a":1}`},
		{"json empty key", "none", "json:/", `{"":"empty"}`, "empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{Header: h, Body: []byte(tc.body)}
			got := dedupKey(tc.rule, eventID(tc.typ, req), req)
			if tc.rule == "none" {
				// Verify skips the rule entirely; dedupKey itself has no "none" case.
				got = ""
			}
			if got != tc.want {
				t.Fatalf("dedup key = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestVerifyAppliesDedupRuleToVerifiedRequest(t *testing.T) {
	body := []byte(`{"data":{"id":"in_9"}}`)
	for _, tc := range []struct {
		rule, want string
	}{
		{"provider", "gh-1"},
		{"none", ""},
		{"header:X-Request-Id", "r-1"},
		{"json:/data/id", "in_9"},
	} {
		cfg := SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "github", Secrets: []string{"k"}}, Dedup: DedupConfig{Key: tc.rule}}
		if err := cfg.Normalize(); err != nil {
			t.Fatal(err)
		}
		h := hdr("X-Hub-Signature-256", "sha256="+macHex(sha256.New, "k", string(body)), "X-GitHub-Delivery", "gh-1", "X-Request-Id", "r-1")
		res, err := Verify(&cfg, Request{Header: h, Body: body}, testNow)
		if err != nil {
			t.Fatalf("%s: %v", tc.rule, err)
		}
		if res.DedupKey != tc.want || res.EventID != "gh-1" {
			t.Fatalf("%s: result %+v, want dedup key %q and event id gh-1", tc.rule, res, tc.want)
		}
	}
}

func TestParsePointerUnescapesInOrder(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{"/", []string{""}, true},
		{"/a/b", []string{"a", "b"}, true},
		{"/a~1b", []string{"a/b"}, true},
		{"/m~0n", []string{"m~n"}, true},
		{"/~01", []string{"~1"}, true}, // not "/": ~1 is replaced before ~0
		{"//", []string{"", ""}, true},
		{"a", nil, false},
		{"/~", nil, false},
		{"/~2", nil, false},
		{"/a~b", nil, false},
	}
	for _, tc := range cases {
		got, ok := parsePointer(tc.in)
		if ok != tc.ok || (ok && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("parsePointer(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSlackChallengeOnlyForURLVerification(t *testing.T) {
	cases := map[string]string{
		`{"type":"url_verification","challenge":"abc"}`: "abc",
		`{"type":"event_callback","challenge":"abc"}`:   "",
		`{"challenge":"abc"}`:                           "",
		`type=url_verification&challenge=abc`:           "",
		``:                                              "",
	}
	for body, want := range cases {
		if got := slackChallenge([]byte(body)); got != want {
			t.Errorf("slackChallenge(%q) = %q, want %q", body, got, want)
		}
	}
}

func TestVerifyErrorsNeverContainSecretsSignaturesOrBodies(t *testing.T) {
	const secret = "TOPSECRET-1234567890"
	body := "BODYBODY-payload-text"
	sig := macHex(sha256.New, "other", body)
	reqs := map[string]Request{
		"token":    {Header: hdr("X-Webhook-Token", "TOPSECRET-wrong")},
		"github":   {Header: hdr("X-Hub-Signature-256", "sha256="+sig), Body: []byte(body)},
		"stripe":   {Header: hdr("Stripe-Signature", "t=1700000000,v1="+sig), Body: []byte(body)},
		"slack":    {Header: hdr("X-Slack-Signature", "v0="+sig, "X-Slack-Request-Timestamp", "1700000000"), Body: []byte(body)},
		"shopify":  {Header: hdr("X-Shopify-Hmac-Sha256", "AAAA"), Body: []byte(body)},
		"basic":    {Header: hdr("Authorization", "Basic dXNlcjpUT1BTRUNSRVQ=")},
		"standard": {Header: hdr("webhook-id", "m", "webhook-timestamp", "1700000000", "webhook-signature", "v1,"+sig), Body: []byte(body)},
	}
	for typ, req := range reqs {
		secretFor := secret
		switch typ {
		case "basic":
			secretFor = "user:" + secret
		case "standard":
			secretFor = "whsec_VE9QU0VDUkVULTEyMzQ1Njc4OTA="
		}
		cfg := SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: typ, Secrets: []string{secretFor}}}
		_, err := Verify(&cfg, req, testNow)
		if err == nil {
			t.Fatalf("%s: forged request accepted", typ)
		}
		msg := err.Error()
		for _, leak := range []string{"TOPSECRET", "BODYBODY", sig, "VE9QU0VDUkVU"} {
			if strings.Contains(msg, leak) {
				t.Fatalf("%s: error %q leaks %q", typ, msg, leak)
			}
		}
	}
}

func TestVerifyWithUnusableConfigFailsClosed(t *testing.T) {
	body := []byte("x")
	cases := map[string]SourceConfig{
		"unknown type":      {Verify: VerifyConfig{Type: "paypal", Secrets: []string{"k"}}},
		"empty type":        {Verify: VerifyConfig{Secrets: []string{"k"}}},
		"hmac bad alg":      {Verify: VerifyConfig{Type: "hmac", Header: "X-Sig", Algorithm: "md5", Secrets: []string{"k"}}},
		"hmac bad encoding": {Verify: VerifyConfig{Type: "hmac", Header: "X-Sig", Encoding: "rot13", Secrets: []string{"k"}}},
		"hmac no header":    {Verify: VerifyConfig{Type: "hmac", Secrets: []string{"k"}}},
	}
	for name, cfg := range cases {
		_, err := Verify(&cfg, Request{Header: hdr("X-Sig", macHex(sha256.New, "k", "x")), Body: body}, testNow)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Verify = %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := Verify(nil, Request{}, testNow); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("nil config: Verify = %v, want ErrInvalidConfig", err)
	}
}

func TestVerifyWithoutNormalizeUsesDefaults(t *testing.T) {
	// Zero tolerance and empty hmac settings mean the defaults, never "no window".
	ts := testNow.Unix()
	body := `{"id":"evt_9"}`
	cfg := SourceConfig{Verify: VerifyConfig{Type: "stripe", Secrets: []string{"k"}}}
	h := hdr("Stripe-Signature", "t="+itoa(ts)+",v1="+macHex(sha256.New, "k", itoa(ts)+"."+body))
	res, err := Verify(&cfg, Request{Header: h, Body: []byte(body)}, testNow.Add(299*time.Second))
	if err != nil || res.EventID != "evt_9" || res.DedupKey != "evt_9" {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if _, err := Verify(&cfg, Request{Header: h, Body: []byte(body)}, testNow.Add(301*time.Second)); Reason(err) != ReasonStale {
		t.Fatalf("zero tolerance did not mean 300s: %v", err)
	}
	hm := SourceConfig{Verify: VerifyConfig{Type: "hmac", Header: "X-Sig", Secrets: []string{"k"}}}
	if _, err := Verify(&hm, Request{Header: hdr("X-Sig", macHex(sha256.New, "k", body)), Body: []byte(body)}, testNow); err != nil {
		t.Fatalf("hmac with empty algorithm/encoding: %v", err)
	}
}

func TestReasonOfOtherErrorsIsEmpty(t *testing.T) {
	if Reason(nil) != "" || Reason(errors.New("x")) != "" || Reason(ErrSignatureInvalid) != "" {
		t.Fatal("Reason of a non-VerifyError is not empty")
	}
	wrapped := errors.Join(errors.New("ctx"), sigErr(ReasonMismatch, "H"))
	if Reason(wrapped) != ReasonMismatch {
		t.Fatal("Reason does not look through wrapping")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
