package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Test-side signing, written independently of Sign: straight from each
// provider's published scheme with crypto/hmac.

var testNow = time.Unix(1_700_000_000, 0)

const (
	oldSecret = "s3cret-old-0123456789"
	newSecret = "s3cret-new-9876543210"
)

func mac(h func() hash.Hash, key, msg string) []byte {
	m := hmac.New(h, []byte(key))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func macHex(h func() hash.Hash, key, msg string) string {
	return hex.EncodeToString(mac(h, key, msg))
}

func macB64(h func() hash.Hash, key, msg string) string {
	return base64.StdEncoding.EncodeToString(mac(h, key, msg))
}

// standardSig computes a Standard Webhooks v1 signature entry.
func standardSig(secret, id, ts, body string) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// hdr builds an http.Header from name/value pairs (canonicalized by Set).
func hdr(kv ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// verifyCase is one row of a provider table.
type verifyCase struct {
	name       string
	cfg        SourceConfig // Normalized by the runner
	req        Request
	now        time.Time // zero: testNow
	wantErr    error     // nil: accepted
	wantReason string
	want       Result // checked when accepted
}

func runVerifyCases(t *testing.T, cases []verifyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if len(cfg.Queues) == 0 {
				cfg.Queues = []string{"q"}
			}
			if err := cfg.Normalize(); err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			now := tc.now
			if now.IsZero() {
				now = testNow
			}
			if tc.req.Header == nil {
				tc.req.Header = http.Header{}
			}
			got, err := Verify(&cfg, tc.req, now)
			checkVerify(t, got, err, tc.wantErr, tc.wantReason, tc.want)
		})
	}
}

func checkVerify(t *testing.T, got Result, err, wantErr error, wantReason string, want Result) {
	t.Helper()
	if wantErr == nil {
		if err != nil {
			t.Fatalf("Verify refused a valid request: %v", err)
		}
		if got != want {
			t.Fatalf("Verify result = %+v, want %+v", got, want)
		}
		return
	}
	if err == nil {
		t.Fatalf("Verify accepted, want %v (%s)", wantErr, wantReason)
	}
	if !errors.Is(err, wantErr) {
		t.Fatalf("Verify error = %v, want errors.Is %v", err, wantErr)
	}
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("Verify error %T is not a *VerifyError", err)
	}
	if ve.Reason != wantReason || Reason(err) != wantReason {
		t.Fatalf("Verify reason = %q, want %q (err %v)", ve.Reason, wantReason, err)
	}
	if got != (Result{}) {
		t.Fatalf("refused request still returned a result %+v", got)
	}
}

func secrets(s ...string) []string { return s }
