package ingest

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestUsesToleranceMatchesVerify: a request signed two hours ago is
// refused as out of window exactly by the types UsesTolerance names (with
// the default 300s tolerance), and accepted by every other type, so the
// tolerance field the console shows follows what Verify does.
func TestUsesToleranceMatchesVerify(t *testing.T) {
	const target = "https://hooks.example.com/hooks/src"
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
			s, err := SignRequest(cfg, signSecret, http.MethodPost, target, signBodyFor(typ), testNow.Add(-2*time.Hour), "evt-old")
			if err != nil {
				t.Fatalf("SignRequest: %v", err)
			}
			_, err = Verify(cfg, Request{Method: http.MethodPost, URL: s.URL, Header: s.Header, Body: s.Body}, testNow)
			stale := errors.Is(err, ErrTimestampOutOfWindow)
			if err != nil && !stale {
				t.Fatalf("Verify: %v", err)
			}
			if stale != UsesTolerance(typ) {
				t.Fatalf("a two-hour-old signature: out of window %v, UsesTolerance %v", stale, UsesTolerance(typ))
			}
			if got := slices.Contains(VerifyFields(typ), FieldTolerance); got != stale {
				t.Fatalf("VerifyFields(%q) = %v: tolerance listed %v, want %v", typ, VerifyFields(typ), got, stale)
			}
		})
	}
}

// TestVerifyFields: hmac lists its own settings, none lists nothing, an
// unknown type has no fields, and RequiresSecrets agrees with Normalize.
func TestVerifyFields(t *testing.T) {
	if got := VerifyFields(TypeHMAC); !slices.Equal(got, []string{"secrets", "header", "algorithm", "encoding", "prefix"}) {
		t.Fatalf("VerifyFields(hmac) = %v", got)
	}
	if got := VerifyFields(TypeNone); got != nil {
		t.Fatalf("VerifyFields(none) = %v", got)
	}
	if got := VerifyFields("nope"); got != nil || RequiresSecrets("nope") {
		t.Fatalf("unknown type: fields %v, requires secrets %v", got, RequiresSecrets("nope"))
	}
	for _, typ := range Types() {
		v := VerifyConfig{Type: typ, Header: "X-Sig"}
		cfg := &SourceConfig{Queues: []string{"q"}, Verify: v}
		err := cfg.Normalize()
		if refused := err != nil; refused != RequiresSecrets(typ) {
			t.Errorf("%s without secrets: Normalize = %v, RequiresSecrets %v", typ, err, RequiresSecrets(typ))
		}
		if typ != TypeNone && !slices.Contains(VerifyFields(typ), FieldSecrets) {
			t.Errorf("VerifyFields(%q) = %v: no secrets", typ, VerifyFields(typ))
		}
	}
}
