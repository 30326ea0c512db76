package ingest

import (
	"bytes"
	"testing"
)

// BenchmarkVerify is the ingest path's signature check of one 1 KiB
// webhook (headers as the provider sends them), per provider.
func BenchmarkVerify(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	for _, tc := range []struct {
		name   string
		verify VerifyConfig
		secret string
	}{
		{"standard", VerifyConfig{Type: TypeStandard, Secrets: secrets("whsec_a2V5LWJ5dGVz")}, "whsec_a2V5LWJ5dGVz"},
		{"stripe", VerifyConfig{Type: TypeStripe, Secrets: secrets("whsec_x")}, "whsec_x"},
		{"github", VerifyConfig{Type: TypeGitHub, Secrets: secrets("k")}, "k"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			cfg := SourceConfig{Queues: []string{"q"}, Verify: tc.verify, Dedup: DedupConfig{Key: "provider"}}
			if err := cfg.Normalize(); err != nil {
				b.Fatal(err)
			}
			h, err := Sign(&cfg, tc.secret, body, testNow, "msg_1")
			if err != nil {
				b.Fatal(err)
			}
			req := Request{Header: h, Body: body}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Verify(&cfg, req, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
