// Package ingesttest gives tests, for every verify.type, a key that signs
// and the key a source verifies with, a body the type accepts, and a
// source config: enough to sign a webhook with ingest.SignRequest that
// the type's preset accepts.
package ingesttest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/hookq/hookq/ingest"
)

// Keys returns the secret SignRequest takes for typ and the one the source
// is configured with; they differ only for the asymmetric presets
// (discord, sendgrid: the private key signs, the public key verifies).
func Keys(t testing.TB, typ string) (sign, verify string) {
	t.Helper()
	switch typ {
	case ingest.TypeNone:
		return "", ""
	case ingest.TypeBasic:
		return "u:pw", "u:pw"
	case ingest.TypeStandard, ingest.TypeSvix, ingest.TypeResend, ingest.TypeClerk:
		return "whsec_a2V5LWJ5dGVz", "whsec_a2V5LWJ5dGVz"
	case ingest.TypeDiscord:
		seed := []byte("api-test-discord-seed-of-32-byte")
		return hex.EncodeToString(seed), hex.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	case ingest.TypeSendGrid:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(priv), base64.StdEncoding.EncodeToString(pub)
	}
	return "api-preset-secret", "api-preset-secret"
}

// Body is a body typ accepts: Microsoft Graph's value list for msgraph, a
// small JSON event otherwise.
func Body(typ string) []byte {
	if typ == ingest.TypeMSGraph {
		return []byte(`{"value":[{"subscriptionId":"s1"}]}`)
	}
	return []byte(`{"id":"evt_test_1","type":"test"}`)
}

// HMACHeader is the signature header Source sets for the hmac type.
const HMACHeader = "X-Sig"

// Source is a source of typ verifying with verifyKey (none when empty),
// feeding queues.
func Source(typ, verifyKey string, queues ...string) ingest.SourceConfig {
	cfg := ingest.SourceConfig{Queues: queues, Verify: ingest.VerifyConfig{Type: typ}}
	if verifyKey != "" {
		cfg.Verify.Secrets = []string{verifyKey}
	}
	if typ == ingest.TypeHMAC {
		cfg.Verify.Header = HMACHeader
	}
	return cfg
}
