package bench

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hookq/hookq/ingest"
)

func TestBodyIsJSONOfTheRequestedSizeAndCarriesItsDueTime(t *testing.T) {
	due := time.Date(2026, 12, 2, 7, 0, 0, 123456789, time.UTC)
	id := eventID(newRunID(), 42)
	if len(id) != eventIDLen {
		t.Fatalf("event id %q has %d bytes, want %d", id, len(id), eventIDLen)
	}
	for _, size := range []int{minBodySize, minBodySize + 1, 1024, 64 << 10} {
		b := buildBody(size, id, due)
		if len(b) != size {
			t.Fatalf("size %d: body has %d bytes", size, len(b))
		}
		var v struct {
			ID     string `json:"id"`
			SentAt int64  `json:"sentAt"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("size %d: not JSON: %v: %s", size, err, b)
		}
		if v.ID != id || v.SentAt != due.UnixNano() {
			t.Fatalf("size %d: id %q sentAt %d, want %q %d", size, v.ID, v.SentAt, id, due.UnixNano())
		}
		if got, ok := sentAt(b); !ok || !got.Equal(due) {
			t.Fatalf("size %d: sentAt = %v %v, want %v", size, got, ok, due)
		}
	}
	if _, ok := sentAt([]byte(`{"x":1}`)); ok {
		t.Fatal("sentAt found in a body without one")
	}
}

// Every provider's signature passes the verifier the server runs, and
// carries the event id the source de-duplicates on.
func TestSignedRequestsVerify(t *testing.T) {
	now := time.Now()
	for _, p := range []string{ingest.TypeStandard, ingest.TypeStripe, ingest.TypeGitHub, ingest.TypeNone} {
		t.Run(p, func(t *testing.T) {
			secret := NewSecret(p)
			s, err := newSigner(p, secret)
			if err != nil {
				t.Fatal(err)
			}
			id := eventID(newRunID(), 1)
			body := buildBody(512, id, now)
			h, err := s.sign(body, now, id)
			if err != nil {
				t.Fatal(err)
			}
			h.Set("Content-Type", "application/json")
			cfg := ingest.SourceConfig{Queues: []string{"q"}, Verify: ingest.VerifyConfig{Type: p}}
			if secret != "" {
				cfg.Verify.Secrets = []string{secret}
			}
			if err := cfg.Normalize(); err != nil {
				t.Fatal(err)
			}
			res, err := ingest.Verify(&cfg, ingest.Request{Header: h, Body: body}, now)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			wantKey := p != ingest.TypeNone
			if wantKey && res.EventID != id {
				t.Errorf("event id %q, want %q", res.EventID, id)
			}
			if (res.DedupKey != "") != wantKey {
				t.Errorf("dedup key %q, want one: %v", res.DedupKey, wantKey)
			}
			if _, err := ingest.Verify(&cfg, ingest.Request{Header: http.Header{}, Body: body}, now); p != ingest.TypeNone && err == nil {
				t.Error("an unsigned request verified")
			}
		})
	}
}

func TestSignerRefusesABadSecret(t *testing.T) {
	if _, err := newSigner(ingest.TypeStandard, "not base64 !"); err == nil {
		t.Fatal("standard secret that is not base64 accepted")
	}
	if _, err := newSigner(ingest.TypeGitHub, ""); err == nil {
		t.Fatal("empty github secret accepted")
	}
}
