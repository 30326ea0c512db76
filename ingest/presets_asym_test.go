package ingest

import (
	"crypto/ed25519"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sendgrid/sendgrid-go/helpers/eventwebhook"
)

var discordSeed = []byte("hookq-discord-test-seed-32-bytes")

// A fixed P-256 test key pair (PKCS #8 private, PKIX public), so that
// every run, fuzz workers included, signs with the same key.
const (
	sendGridTestPriv = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgexrAXu9UGDKvEfE9kX4Yf02ofBr3GK6HYLffXqAXiD6hRANCAAQZLFzjg9H4JPmZHIYK1+lDOab7YxyGmKiEHcvbYSwWNbdzWZMuZDojXa/OSsB5HjrcIo2psAfsjzUAG/CorlAt" // #nosec G101 -- a test key
	sendGridTestPub  = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGSxc44PR+CT5mRyGCtfpQzmm+2MchpiohB3L22EsFjW3c1mTLmQ6I12vzkrAeR463CKNqbAH7I81ABvwqK5QLQ=="
)

// asymmetricTestKeys maps an asymmetric preset to {private key for Sign,
// public key for the source}.
func asymmetricTestKeys(t testing.TB) map[string][2]string {
	t.Helper()
	dk := ed25519.NewKeyFromSeed(discordSeed)
	return map[string][2]string{
		"discord":  {hex.EncodeToString(discordSeed), hex.EncodeToString(dk.Public().(ed25519.PublicKey))},
		"sendgrid": {sendGridTestPriv, sendGridTestPub},
	}
}

// discordRequest signs body as Discord documents: Ed25519 over
// timestamp + body, hex in X-Signature-Ed25519.
func discordRequest(key ed25519.PrivateKey, body string, at time.Time) Request {
	ts := strconv.FormatInt(at.Unix(), 10)
	sig := ed25519.Sign(key, []byte(ts+body))
	return Request{Header: hdr("X-Signature-Ed25519", hex.EncodeToString(sig), "X-Signature-Timestamp", ts), Body: []byte(body)}
}

// TestDiscordVerifiesInteractionsAndAnswersPing: a signed interaction is
// accepted with its id as event id; a signed PING is answered {"type":1}
// and not enqueued; tampered, other-key, stale and future are refused —
// a PING included (Discord probes with bad signatures).
func TestDiscordVerifiesInteractionsAndAnswersPing(t *testing.T) {
	key := ed25519.NewKeyFromSeed(discordSeed)
	pub := hex.EncodeToString(key.Public().(ed25519.PublicKey))
	other := ed25519.NewKeyFromSeed([]byte("another-discord-seed-of-32-bytes"))
	cfg := presetCfg(t, "discord", hex.EncodeToString(other.Public().(ed25519.PublicKey)), pub)

	res, err := Verify(cfg, discordRequest(key, `{"id":"int_1","type":2}`, testNow), testNow)
	if err != nil || res.EventID != "int_1" || res.Reply != nil {
		t.Fatalf("interaction: %+v, %v", res, err)
	}
	res, err = Verify(cfg, discordRequest(key, `{"id":"ping_1","type":1}`, testNow), testNow)
	if err != nil || res.Reply == nil || string(res.Reply.Body) != `{"type":1}` || res.Reply.ContentType != "application/json" {
		t.Fatalf("PING: %+v, %v", res, err)
	}
	ping := discordRequest(key, `{"id":"ping_1","type":1}`, testNow)
	ping.Body = []byte(`{"id":"ping_2","type":1}`)
	_, err = Verify(cfg, ping, testNow)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
	wrong := ed25519.NewKeyFromSeed([]byte("an-unconfigured-seed-of-32-byte!"))
	_, err = Verify(cfg, discordRequest(wrong, `{"type":1}`, testNow), testNow)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
	_, err = Verify(cfg, discordRequest(key, `{"type":2}`, testNow.Add(-6*time.Minute)), testNow)
	checkVerify(t, Result{}, err, ErrTimestampOutOfWindow, ReasonStale, Result{})
	_, err = Verify(cfg, discordRequest(key, `{"type":2}`, testNow.Add(6*time.Minute)), testNow)
	checkVerify(t, Result{}, err, ErrTimestampOutOfWindow, ReasonFuture, Result{})
	_, err = Verify(cfg, Request{Header: hdr("X-Signature-Ed25519", "abcd", "X-Signature-Timestamp", "1"), Body: []byte("{}")}, testNow)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMalformedHeader, Result{})
	_, err = Verify(cfg, Request{Header: http.Header{}, Body: []byte("{}")}, testNow)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMissingHeader, Result{})
}

// TestDiscordAndSendGridRefuseKeysThatAreNotPublicKeys: a source is
// configured with the public key; anything else is a 400 at PUT.
func TestDiscordAndSendGridRefuseKeysThatAreNotPublicKeys(t *testing.T) {
	for _, tc := range []struct{ typ, secret string }{
		{"discord", "not-hex"}, {"discord", "abcd"}, {"sendgrid", "bm90IGEga2V5"}, {"sendgrid", "%%%"},
	} {
		cfg := SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: tc.typ, Secrets: []string{tc.secret}}}
		if err := cfg.Normalize(); err == nil {
			t.Fatalf("%s accepted secret %q", tc.typ, tc.secret)
		}
	}
}

// sendgrid-go's eventwebhook test vector (helpers/eventwebhook).
const (
	sendGridSDKKey  = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
	sendGridSDKSig  = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
	sendGridSDKTS   = "1600112502"
	sendGridSDKBody = `[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address","sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA","sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0","smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>","timestamp":1600112492}]` + "\r\n"
)

// TestSendGridSDKVectorIsAccepted: sendgrid-go's signed example is
// accepted; tampered, under another key, stale and future are refused.
func TestSendGridSDKVectorIsAccepted(t *testing.T) {
	at := time.Unix(1600112502, 0)
	cfg := presetCfg(t, "sendgrid", sendGridTestPub, sendGridSDKKey)
	h := hdr("X-Twilio-Email-Event-Webhook-Signature", sendGridSDKSig, "X-Twilio-Email-Event-Webhook-Timestamp", sendGridSDKTS)
	if _, err := Verify(cfg, Request{Header: h, Body: []byte(sendGridSDKBody)}, at); err != nil {
		t.Fatalf("Verify refused sendgrid-go's vector: %v", err)
	}
	_, err := Verify(cfg, Request{Header: h, Body: []byte(sendGridSDKBody[:len(sendGridSDKBody)-2])}, at)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
	_, err = Verify(presetCfg(t, "sendgrid", sendGridTestPub), Request{Header: h, Body: []byte(sendGridSDKBody)}, at)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMismatch, Result{})
	_, err = Verify(cfg, Request{Header: h, Body: []byte(sendGridSDKBody)}, at.Add(6*time.Minute))
	checkVerify(t, Result{}, err, ErrTimestampOutOfWindow, ReasonStale, Result{})
	_, err = Verify(cfg, Request{Header: h, Body: []byte(sendGridSDKBody)}, at.Add(-6*time.Minute))
	checkVerify(t, Result{}, err, ErrTimestampOutOfWindow, ReasonFuture, Result{})
	bad := hdr("X-Twilio-Email-Event-Webhook-Signature", "not base64", "X-Twilio-Email-Event-Webhook-Timestamp", sendGridSDKTS)
	_, err = Verify(cfg, Request{Header: bad, Body: []byte(sendGridSDKBody)}, at)
	checkVerify(t, Result{}, err, ErrSignatureInvalid, ReasonMalformedHeader, Result{})
}

// TestSendGridSDKValidatesOurSignature: sendgrid-go's VerifySignature
// accepts what Sign produces with the private key.
func TestSendGridSDKValidatesOurSignature(t *testing.T) {
	keys := asymmetricTestKeys(t)["sendgrid"]
	body := []byte(`[{"event":"delivered","sg_event_id":"e1"}]`)
	h, err := Sign(&SourceConfig{Verify: VerifyConfig{Type: "sendgrid"}}, keys[0], body, testNow, "")
	if err != nil {
		t.Fatal(err)
	}
	again, err := Sign(&SourceConfig{Verify: VerifyConfig{Type: "sendgrid"}}, keys[0], body, testNow, "")
	if err != nil || again.Get("X-Twilio-Email-Event-Webhook-Signature") != h.Get("X-Twilio-Email-Event-Webhook-Signature") {
		t.Fatalf("signing twice gave two signatures (%v): Sign must read no randomness", err)
	}
	pub, err := eventwebhook.ConvertPublicKeyBase64ToECDSA(keys[1])
	if err != nil {
		t.Fatal(err)
	}
	ok, err := eventwebhook.VerifySignature(pub, body, h.Get("X-Twilio-Email-Event-Webhook-Signature"), h.Get("X-Twilio-Email-Event-Webhook-Timestamp"))
	if err != nil || !ok {
		t.Fatalf("sendgrid-go refused our signature: ok=%v err=%v", ok, err)
	}
}
