package ingest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// Asymmetric presets: the source holds the provider's public key (as
// verify.secrets, so rotation works as for MACs); Sign takes the matching
// private key in its place.

const (
	TypeDiscord  = "discord"
	TypeSendGrid = "sendgrid"
)

const (
	HeaderDiscordSignature  = "X-Signature-Ed25519"
	HeaderDiscordTimestamp  = "X-Signature-Timestamp"
	HeaderSendGridSignature = "X-Twilio-Email-Event-Webhook-Signature"
	HeaderSendGridTimestamp = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// Discord interactions:
// https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers
// X-Signature-Ed25519: hex Ed25519 signature, by the application's key,
// of X-Signature-Timestamp + body; the secret is the application's public
// key in hex (Developer Portal → General Information → Public Key). A
// PING (type 1) is answered {"type":1} and not enqueued.
func verifyDiscord(secrets []string, req Request) (checked, error) {
	s := headerValue(req.Header, HeaderDiscordSignature)
	if s == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderDiscordSignature)
	}
	t := headerValue(req.Header, HeaderDiscordTimestamp)
	if t == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderDiscordTimestamp)
	}
	sig, ok := decodeHex(s)
	if !ok || len(sig) != ed25519.SignatureSize {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderDiscordSignature)
	}
	ts, ok := parseTimestamp(t)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderDiscordTimestamp)
	}
	msg := make([]byte, 0, len(t)+len(req.Body))
	msg = append(append(msg, t...), req.Body...)
	match := false
	for _, secret := range secrets {
		if pub, ok := discordPublicKey(secret); ok && ed25519.Verify(pub, msg, sig) {
			match = true
		}
	}
	if !match {
		return checked{}, sigErr(ReasonMismatch, HeaderDiscordSignature)
	}
	c := checked{ts: ts, timed: true}
	var m struct {
		Type int `json:"type"`
	}
	if json.Unmarshal(req.Body, &m) == nil && m.Type == 1 {
		c.reply = &Reply{ContentType: "application/json", Body: []byte(`{"type":1}`)}
	}
	return c, nil
}

func discordPublicKey(s string) (ed25519.PublicKey, bool) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, false
	}
	return ed25519.PublicKey(b), true
}

func discordKeyProblem(s string) string {
	if _, ok := discordPublicKey(s); !ok {
		return "must be the application's Ed25519 public key: 64 hex digits"
	}
	return ""
}

// signDiscord: secret is the hex Ed25519 private key, as a 32-byte seed
// (64 hex digits) or a 64-byte private key (128 hex digits).
func signDiscord(secret string, in signInput) (http.Header, error) {
	b, err := hex.DecodeString(secret)
	var key ed25519.PrivateKey
	switch {
	case err == nil && len(b) == ed25519.SeedSize:
		key = ed25519.NewKeyFromSeed(b)
	case err == nil && len(b) == ed25519.PrivateKeySize:
		key = ed25519.PrivateKey(b)
	default:
		return nil, fmt.Errorf("%w: discord signs with the hex Ed25519 private key (32-byte seed or 64-byte key)", ErrCannotSign)
	}
	t := strconv.FormatInt(in.now.Unix(), 10)
	msg := append([]byte(t), in.body...)
	h := hdr1(HeaderDiscordSignature, hex.EncodeToString(ed25519.Sign(key, msg)))
	h.Set(HeaderDiscordTimestamp, t)
	return h, nil
}

// SendGrid signed event webhook:
// https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
// X-Twilio-Email-Event-Webhook-Signature: base64 of the ASN.1 DER ECDSA
// P-256 signature of SHA-256(timestamp + body), where the timestamp is
// X-Twilio-Email-Event-Webhook-Timestamp; the secret is the verification
// key SendGrid shows (base64 DER SubjectPublicKeyInfo).
func verifySendGrid(secrets []string, req Request) (checked, error) {
	s := headerValue(req.Header, HeaderSendGridSignature)
	if s == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderSendGridSignature)
	}
	t := headerValue(req.Header, HeaderSendGridTimestamp)
	if t == "" {
		return checked{}, sigErr(ReasonMissingHeader, HeaderSendGridTimestamp)
	}
	sig, ok := decodeStdBase64(s)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderSendGridSignature)
	}
	ts, ok := parseTimestamp(t)
	if !ok {
		return checked{}, sigErr(ReasonMalformedHeader, HeaderSendGridTimestamp)
	}
	h := sha256.New()
	h.Write([]byte(t))
	h.Write(req.Body)
	digest := h.Sum(nil)
	match := false
	for _, secret := range secrets {
		if pub, ok := sendGridPublicKey(secret); ok && ecdsa.VerifyASN1(pub, digest, sig) {
			match = true
		}
	}
	if !match {
		return checked{}, sigErr(ReasonMismatch, HeaderSendGridSignature)
	}
	return checked{ts: ts, timed: true}, nil
}

func sendGridPublicKey(s string) (*ecdsa.PublicKey, bool) {
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, false
	}
	pub, ok := k.(*ecdsa.PublicKey)
	return pub, ok
}

func sendGridKeyProblem(s string) string {
	if _, ok := sendGridPublicKey(s); !ok {
		return "must be SendGrid's verification key: base64 of a DER ECDSA public key"
	}
	return ""
}

// signSendGrid: secret is the base64 DER EC private key (PKCS #8 or
// SEC 1) matching the source's verification key.
func signSendGrid(secret string, in signInput) (http.Header, error) {
	der, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: sendgrid signs with a base64 DER EC private key", ErrCannotSign)
	}
	var key *ecdsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		key, _ = k.(*ecdsa.PrivateKey)
	} else if k, err := x509.ParseECPrivateKey(der); err == nil {
		key = k
	}
	if key == nil {
		return nil, fmt.Errorf("%w: sendgrid signs with a base64 DER EC private key", ErrCannotSign)
	}
	t := strconv.FormatInt(in.now.Unix(), 10)
	digest := sha256.Sum256(append([]byte(t), in.body...))
	// A nil random source makes the signature deterministic (RFC 6979):
	// the package reads no randomness.
	sig, err := key.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCannotSign, err)
	}
	h := hdr1(HeaderSendGridSignature, base64.StdEncoding.EncodeToString(sig))
	h.Set(HeaderSendGridTimestamp, t)
	return h, nil
}
