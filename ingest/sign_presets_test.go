package ingest

import (
	"errors"
	"net/http"
	"testing"
)

// signSecret is the secret Sign is given for a type in
// TestSignCoversEveryType, and verifySecret what the source is configured
// with (they differ only for the asymmetric presets: Sign takes the
// private key, the source holds the public key).
func signSecrets(t *testing.T, typ string) (signSecret, verifySecret string) {
	t.Helper()
	switch typ {
	case TypeNone:
		return "", ""
	case TypeBasic:
		return "user:pw", "user:pw"
	case TypeStandard, TypeSvix, TypeResend, TypeClerk:
		return "whsec_a2V5LWJ5dGVz", "whsec_a2V5LWJ5dGVz"
	}
	if k, ok := asymmetricTestKeys(t)[typ]; ok {
		return k[0], k[1]
	}
	return "sign-secret-1", "sign-secret-1"
}

// TestSignCoversEveryType: for every verify.type that Types lists (so a
// new preset cannot be left out), what SignRequest produces for a request
// to the source's URL is accepted by Verify for the same request — what
// `hookq send --provider` relies on — and the event id given to Sign comes
// back where the provider carries it in a header.
func TestSignCoversEveryType(t *testing.T) {
	const target = "https://hooks.example.com/hooks/src?x=1"
	for _, typ := range Types() {
		t.Run(typ, func(t *testing.T) {
			signSecret, verifySecret := signSecrets(t, typ)
			v := VerifyConfig{Type: typ}
			if verifySecret != "" {
				v.Secrets = []string{verifySecret}
			}
			if typ == TypeHMAC {
				v.Header = "X-Sig"
			}
			cfg := &SourceConfig{Queues: []string{"q"}, Verify: v}
			if err := cfg.Normalize(); err != nil {
				t.Fatal(err)
			}
			body := signBodyFor(typ)
			s, err := SignRequest(cfg, signSecret, http.MethodPost, target, body, testNow, "evt-sign-1")
			if err != nil {
				t.Fatalf("SignRequest: %v", err)
			}
			req := Request{Method: http.MethodPost, URL: s.URL, Header: s.Header, Body: s.Body}
			res, err := Verify(cfg, req, testNow)
			if err != nil {
				t.Fatalf("Verify refused what SignRequest produced (headers %v): %v", s.Header, err)
			}
			if !bodyUncovered[typ] {
				tampered := req
				tampered.Body = append(append([]byte(nil), s.Body...), ' ')
				if _, err := Verify(cfg, tampered, testNow); err == nil {
					t.Fatal("Verify accepted a tampered body under SignRequest's headers")
				}
			}
			if res.Challenge != "" || res.Reply != nil {
				t.Fatalf("a signed event was taken for a handshake: %+v", res)
			}
			// Sign (headers only, no URL) covers the same types, except
			// those that sign the URL or put the signature in the body.
			h, err := Sign(cfg, signSecret, body, testNow, "evt-sign-1")
			if needsSignRequest[typ] {
				if !errors.Is(err, ErrCannotSign) {
					t.Fatalf("Sign = %v, want ErrCannotSign (use SignRequest)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if _, err := Verify(cfg, Request{Header: h, Body: body}, testNow); err != nil {
				t.Fatalf("Verify refused what Sign produced: %v", err)
			}
		})
	}
}

// needsSignRequest: the presets Sign cannot sign from headers alone.
var needsSignRequest = map[string]bool{
	TypeHubSpot: true, TypeSquare: true, TypeTwilio: true, TypeMailgun: true, TypeLinear: true, TypeMSGraph: true,
}

// bodyUncovered: the types whose credential does not cover the body — a
// token or password (none, token, basic, gitlab, okta), Mailgun's
// signature (timestamp + token only), Graph's clientState.
var bodyUncovered = map[string]bool{
	TypeNone: true, TypeToken: true, TypeBasic: true, TypeGitLab: true, TypeOkta: true,
	TypeMailgun: true, TypeMSGraph: true,
}

// signBodyFor is a body each type accepts as an ordinary event.
func signBodyFor(typ string) []byte {
	if typ == TypeMSGraph {
		return []byte(`{"value":[{"subscriptionId":"s1","changeType":"created"}]}`)
	}
	return []byte(`{"id":"evt_1","type":"test","data":{"n":1}}`)
}
