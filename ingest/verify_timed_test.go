package ingest

import (
	"crypto/sha256"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Verifiers that sign a timestamp: stripe, slack, standard. Each checks the
// signature before the window, and refuses stale and future timestamps.

func TestVerifyStripeSignatureWindowAndEventID(t *testing.T) {
	body := `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"charge.succeeded"}`
	ts := strconv.FormatInt(testNow.Unix(), 10)
	v1 := func(secret, t, b string) string { return macHex(sha256.New, secret, t+"."+b) }
	cfg := SourceConfig{Verify: VerifyConfig{Type: "stripe", Secrets: secrets("whsec_old", "whsec_new")}}
	req := func(h, b string) Request { return Request{Header: hdr("Stripe-Signature", h), Body: []byte(b)} }
	good := "t=" + ts + ",v1=" + v1("whsec_old", ts, body)
	at := func(d time.Duration) time.Time { return testNow.Add(d) }
	evt := Result{EventID: "evt_1NG8Du2eZvKYlo2CUI79vXWy", DedupKey: "evt_1NG8Du2eZvKYlo2CUI79vXWy"}
	runVerifyCases(t, []verifyCase{
		{name: "valid, event id from body", cfg: cfg, req: req(good, body), want: evt},
		{name: "rotated second secret", cfg: cfg, req: req("t="+ts+",v1="+v1("whsec_new", ts, body), body), want: evt},
		{name: "several v1, one valid", cfg: cfg,
			req: req("t="+ts+",v1="+v1("stale", ts, body)+",v1="+v1("whsec_old", ts, body), body), want: evt},
		{name: "v0 scheme ignored", cfg: cfg,
			req: req("t="+ts+",v1="+v1("whsec_old", ts, body)+",v0=6ffbb59b2300aae63f27240606", body), want: evt},
		{name: "order of items does not matter", cfg: cfg, req: req("v1="+v1("whsec_old", ts, body)+",t="+ts, body), want: evt},
		{name: "exactly at tolerance in the past", cfg: cfg, req: req(good, body), now: at(300 * time.Second), want: evt},
		{name: "exactly at tolerance in the future", cfg: cfg, req: req(good, body), now: at(-300 * time.Second), want: evt},
		{name: "body without id", cfg: cfg, req: req("t="+ts+",v1="+v1("whsec_old", ts, "{}"), "{}")},
		{name: "stale", cfg: cfg, req: req(good, body), now: at(301 * time.Second),
			wantErr: ErrTimestampOutOfWindow, wantReason: ReasonStale},
		{name: "future", cfg: cfg, req: req(good, body), now: at(-301 * time.Second),
			wantErr: ErrTimestampOutOfWindow, wantReason: ReasonFuture},
		{name: "custom tolerance", cfg: SourceConfig{Verify: VerifyConfig{Type: "stripe", Secrets: secrets("whsec_old"), Tolerance: 10 * time.Second}},
			req: req(good, body), now: at(11 * time.Second), wantErr: ErrTimestampOutOfWindow, wantReason: ReasonStale},
		{name: "signature checked before window", cfg: cfg, req: req("t="+ts+",v1="+v1("wrong", ts, body), body), now: at(time.Hour),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "tampered body", cfg: cfg, req: req(good, strings.Replace(body, "succeeded", "failed", 1)),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "tampered timestamp", cfg: cfg, req: req("t="+strconv.FormatInt(testNow.Unix()+1, 10)+",v1="+v1("whsec_old", ts, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "wrong secret", cfg: cfg, req: req("t="+ts+",v1="+v1("whsec_other", ts, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "only v0 signature", cfg: cfg, req: req("t="+ts+",v0="+v1("whsec_old", ts, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "missing header", cfg: cfg, req: Request{Body: []byte(body)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "missing t", cfg: cfg, req: req("v1="+v1("whsec_old", ts, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "non-numeric t", cfg: cfg, req: req("t=abc,v1="+v1("whsec_old", ts, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "leading zero t", cfg: cfg, req: req("t=0"+ts+",v1="+v1("whsec_old", ts, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "two t items", cfg: cfg, req: req(good+",t="+ts, body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "bad hex in v1", cfg: cfg, req: req("t="+ts+",v1=xyz", body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "item without =", cfg: cfg, req: req(good+",junk", body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
	})
}

func TestVerifySlackSignatureWindowHandshakeAndEventID(t *testing.T) {
	// Published vector: Slack, "Verifying requests from Slack".
	const (
		docSecret = "8f742231b10e8888abcd99yyyzzz85a5"
		docTS     = "1531420618"
		docBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
		docSig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	)
	if got := "v0=" + macHex(sha256.New, docSecret, "v0:"+docTS+":"+docBody); got != docSig {
		t.Fatalf("test-side Slack signer disagrees with Slack's published vector: %s", got)
	}
	ts := strconv.FormatInt(testNow.Unix(), 10)
	sig := func(secret, t, b string) string { return "v0=" + macHex(sha256.New, secret, "v0:"+t+":"+b) }
	cfg := SourceConfig{Verify: VerifyConfig{Type: "slack", Secrets: secrets(oldSecret, newSecret)}}
	req := func(s, t, b string) Request {
		return Request{Header: hdr("X-Slack-Signature", s, "X-Slack-Request-Timestamp", t), Body: []byte(b)}
	}
	event := `{"type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"message"}}`
	challenge := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	at := func(d time.Duration) time.Time { return testNow.Add(d) }
	runVerifyCases(t, []verifyCase{
		{name: "published Slack vector", cfg: SourceConfig{Verify: VerifyConfig{Type: "slack", Secrets: secrets(docSecret)}},
			req: req(docSig, docTS, docBody), now: time.Unix(1531420618, 0)},
		{name: "event id from body", cfg: cfg, req: req(sig(oldSecret, ts, event), ts, event),
			want: Result{EventID: "Ev08MFMKH6", DedupKey: "Ev08MFMKH6"}},
		{name: "url_verification answers the challenge", cfg: cfg, req: req(sig(oldSecret, ts, challenge), ts, challenge),
			want: Result{Challenge: "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}},
		{name: "rotated second secret", cfg: cfg, req: req(sig(newSecret, ts, event), ts, event),
			want: Result{EventID: "Ev08MFMKH6", DedupKey: "Ev08MFMKH6"}},
		{name: "upper-case hex", cfg: cfg, req: req("v0="+strings.ToUpper(sig(oldSecret, ts, "x")[3:]), ts, "x")},
		{name: "url_verification with a bad signature is refused", cfg: cfg, req: req(sig("wrong", ts, challenge), ts, challenge),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "stale", cfg: cfg, req: req(sig(oldSecret, ts, event), ts, event), now: at(301 * time.Second),
			wantErr: ErrTimestampOutOfWindow, wantReason: ReasonStale},
		{name: "future", cfg: cfg, req: req(sig(oldSecret, ts, event), ts, event), now: at(-301 * time.Second),
			wantErr: ErrTimestampOutOfWindow, wantReason: ReasonFuture},
		{name: "stale handshake refused", cfg: cfg, req: req(sig(oldSecret, ts, challenge), ts, challenge), now: at(time.Hour),
			wantErr: ErrTimestampOutOfWindow, wantReason: ReasonStale},
		{name: "signature checked before window", cfg: cfg, req: req(sig("wrong", ts, event), ts, event), now: at(time.Hour),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "tampered body", cfg: cfg, req: req(sig(oldSecret, ts, event), ts, strings.Replace(event, "message", "massage", 1)),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "tampered timestamp", cfg: cfg, req: req(sig(oldSecret, ts, event), strconv.FormatInt(testNow.Unix()-1, 10), event),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "wrong secret", cfg: cfg, req: req(sig("wrong", ts, event), ts, event),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "missing signature", cfg: cfg, req: Request{Header: hdr("X-Slack-Request-Timestamp", ts), Body: []byte(event)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "missing timestamp", cfg: cfg, req: Request{Header: hdr("X-Slack-Signature", sig(oldSecret, ts, event)), Body: []byte(event)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "no v0= prefix", cfg: cfg, req: req(sig(oldSecret, ts, event)[3:], ts, event),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "non-numeric timestamp", cfg: cfg, req: req(sig(oldSecret, "now", event), "now", event),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "bad hex", cfg: cfg, req: req("v0=nothex", ts, event),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
	})
}

func TestVerifyStandardWebhooksSignatureWindowAndID(t *testing.T) {
	// Published vector: the Standard Webhooks specification / Svix docs.
	const (
		docSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		docID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		docTS     = "1614265330"
		docBody   = `{"test": 2432232314}`
		docSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	if got := standardSig(docSecret, docID, docTS, docBody); got != docSig {
		t.Fatalf("test-side Standard Webhooks signer disagrees with the published vector: %s", got)
	}
	const (
		sec1 = "whsec_c2VjcmV0LW9uZS1mb3ItaG9va3EtdGVzdHM="   // "secret-one-for-hookq-tests"
		sec2 = "c2Vjb25kLXJvdGF0ZWQtc2VjcmV0LWZvci1ob29rcQ==" // rotated, no whsec_ prefix
	)
	ts := strconv.FormatInt(testNow.Unix(), 10)
	body := `{"type":"invoice.paid","data":{"id":"in_1"}}`
	cfg := SourceConfig{Verify: VerifyConfig{Type: "standard", Secrets: secrets(sec1, sec2)}}
	req := func(id, t, s, b string) Request {
		return Request{Header: hdr("webhook-id", id, "webhook-timestamp", t, "webhook-signature", s), Body: []byte(b)}
	}
	good := standardSig(sec1, "msg_1", ts, body)
	ok := Result{EventID: "msg_1", DedupKey: "msg_1"}
	at := func(d time.Duration) time.Time { return testNow.Add(d) }
	runVerifyCases(t, []verifyCase{
		{name: "published vector", cfg: SourceConfig{Verify: VerifyConfig{Type: "standard", Secrets: secrets(docSecret)}},
			req: req(docID, docTS, docSig, docBody), now: time.Unix(1614265330, 0), want: Result{EventID: docID, DedupKey: docID}},
		{name: "webhook-id is the event id", cfg: cfg, req: req("msg_1", ts, good, body), want: ok},
		{name: "svix-* header names", cfg: cfg,
			req:  Request{Header: hdr("svix-id", "msg_1", "svix-timestamp", ts, "svix-signature", good), Body: []byte(body)},
			want: ok},
		{name: "rotated secret without whsec_ prefix", cfg: cfg, req: req("msg_1", ts, standardSig(sec2, "msg_1", ts, body), body), want: ok},
		{name: "several space-separated signatures, one valid", cfg: cfg,
			req: req("msg_1", ts, "v1a,bm90LWNoZWNrZWQ= "+standardSig(sec1, "msg_1", ts, "other")+" "+good, body), want: ok},
		{name: "stale", cfg: cfg, req: req("msg_1", ts, good, body), now: at(301 * time.Second),
			wantErr: ErrTimestampOutOfWindow, wantReason: ReasonStale},
		{name: "future", cfg: cfg, req: req("msg_1", ts, good, body), now: at(-301 * time.Second),
			wantErr: ErrTimestampOutOfWindow, wantReason: ReasonFuture},
		{name: "signature checked before window", cfg: cfg, req: req("msg_1", ts, standardSig(sec1, "msg_1", ts, "x"), body), now: at(time.Hour),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "tampered body", cfg: cfg, req: req("msg_1", ts, good, body+"\n"),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "tampered id", cfg: cfg, req: req("msg_2", ts, good, body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "tampered timestamp", cfg: cfg, req: req("msg_1", strconv.FormatInt(testNow.Unix()+1, 10), good, body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "wrong secret", cfg: cfg, req: req("msg_1", ts, standardSig("whsec_d3Jvbmc=", "msg_1", ts, body), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMismatch},
		{name: "missing signature", cfg: cfg, req: Request{Header: hdr("webhook-id", "msg_1", "webhook-timestamp", ts), Body: []byte(body)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "missing id", cfg: cfg, req: Request{Header: hdr("webhook-timestamp", ts, "webhook-signature", good), Body: []byte(body)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "missing timestamp", cfg: cfg, req: Request{Header: hdr("webhook-id", "msg_1", "webhook-signature", good), Body: []byte(body)},
			wantErr: ErrSignatureInvalid, wantReason: ReasonMissingHeader},
		{name: "non-numeric timestamp", cfg: cfg, req: req("msg_1", "soon", good, body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "no v1 entry", cfg: cfg, req: req("msg_1", ts, "v2,"+strings.TrimPrefix(good, "v1,"), body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
		{name: "v1 entry not base64", cfg: cfg, req: req("msg_1", ts, "v1,@@@", body),
			wantErr: ErrSignatureInvalid, wantReason: ReasonMalformedHeader},
	})
}

func TestCheckWindowBoundsAndHugeTimestamps(t *testing.T) {
	now := testNow
	n := now.Unix()
	cases := []struct {
		name   string
		ts     int64
		tol    time.Duration
		reason string // "" = inside
	}{
		{"now", n, 0, ""},
		{"tolerance ago", n - 300, 0, ""},
		{"tolerance ahead", n + 300, 0, ""},
		{"one second too old", n - 301, 0, ReasonStale},
		{"one second too far ahead", n + 301, 0, ReasonFuture},
		{"epoch", 0, time.Hour, ReasonStale},
		{"beyond maxUnix", 1 << 62, time.Hour, ReasonFuture},
		{"max int64", 1<<63 - 1, time.Hour, ReasonFuture},
		{"sub-second tolerance", n - 1, 500 * time.Millisecond, ReasonStale},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkWindow(tc.ts, now, tc.tol)
			if got := Reason(err); got != tc.reason {
				t.Fatalf("checkWindow reason = %q, want %q (err %v)", got, tc.reason, err)
			}
		})
	}
}
