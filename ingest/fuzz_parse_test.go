package ingest

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// Fuzz targets for the header parsers: no panics, and whatever a parser
// accepts round-trips to exactly the text it was given (so one value has one
// accepted spelling, up to hex case).

func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"0", "1700000000", "01700000000", "-1", "+1", " 1", "9223372036854775807", "9223372036854775808", "1e9", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseTimestamp(s)
		canonical := false
		if v, err := strconv.ParseInt(s, 10, 64); err == nil && v >= 0 && strconv.FormatInt(v, 10) == s {
			canonical = true
		}
		if ok != canonical {
			t.Fatalf("parseTimestamp(%q) ok = %v, canonical = %v", s, ok, canonical)
		}
		if ok && strconv.FormatInt(n, 10) != s {
			t.Fatalf("parseTimestamp(%q) = %d does not round-trip", s, n)
		}
	})
}

func FuzzParseStripeHeader(f *testing.F) {
	sig := strings.Repeat("ab", 32)
	for _, s := range []string{
		"t=1700000000,v1=" + sig,
		"t=1700000000,v1=" + sig + ",v1=" + strings.Repeat("CD", 32) + ",v0=zz",
		"v1=" + sig + ",t=1",
		"t=1700000000", "v1=" + sig, "t=,v1=", "t=1,t=2,v1=00", "t=1,v1=0", ",,", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := parseStripeHeader(s)
		if !ok {
			return
		}
		if len(h.sigs) == 0 {
			t.Fatalf("accepted %q without a v1 signature", s)
		}
		if n, ok := parseTimestamp(h.t); !ok || n != h.ts {
			t.Fatalf("accepted %q with timestamp %q / %d", s, h.t, h.ts)
		}
		items := strings.Split(s, ",")
		if !contains(items, "t="+h.t) {
			t.Fatalf("timestamp %q is not an item of %q", h.t, s)
		}
		for _, sig := range h.sigs {
			if !containsFold(items, "v1="+hex.EncodeToString(sig)) {
				t.Fatalf("signature %x is not an item of %q", sig, s)
			}
		}
	})
}

func FuzzParseStandardSignatures(f *testing.F) {
	good := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	for _, s := range []string{good, good + " " + good, "v1a,abc " + good, "v1,", "v1,@@", "v2,AAAA", "v1,AAAA  v1,AAAB", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sigs, ok := parseStandardSignatures(s)
		if ok != (len(sigs) > 0) {
			t.Fatalf("ok = %v with %d signatures", ok, len(sigs))
		}
		entries := strings.Split(s, " ")
		for _, sig := range sigs {
			if !contains(entries, "v1,"+base64.StdEncoding.EncodeToString(sig)) {
				t.Fatalf("signature %x is not an entry of %q", sig, s)
			}
		}
	})
}

func FuzzParseBasicAuth(f *testing.F) {
	for _, s := range []string{"Basic dTpw", "basic dTpw", "BASIC dTpw", "Basic dXNlcg==", "Bearer dTpw", "Basic  dTpw", "Basic dTpw\n", "Basic", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cred, ok := parseBasicAuth(s)
		if !ok {
			return
		}
		if !strings.Contains(cred, ":") {
			t.Fatalf("accepted %q without a colon", s)
		}
		if len(s) < 6 || !strings.EqualFold(s[:6], "Basic ") || s[6:] != base64.StdEncoding.EncodeToString([]byte(cred)) {
			t.Fatalf("accepted %q as %q, which is not its canonical form", s, cred)
		}
	})
}

func FuzzDecodeSignature(f *testing.F) {
	sum := strings.Repeat("\xa5", 32)
	for _, seed := range []struct {
		s, prefix string
		b64       bool
	}{
		{hex.EncodeToString([]byte(sum)), "", false},
		{"sha256=" + strings.ToUpper(hex.EncodeToString([]byte(sum))), "sha256=", false},
		{base64.StdEncoding.EncodeToString([]byte(sum)), "", true},
		{base64.RawURLEncoding.EncodeToString([]byte(sum)), "", true},
		{"v1=" + base64.URLEncoding.EncodeToString([]byte(sum)), "v1=", true},
		{"abc", "", false}, {"ab\ncd", "", true}, {"====", "", true}, {"", "", false},
	} {
		f.Add(seed.s, seed.prefix, seed.b64)
	}
	f.Fuzz(func(t *testing.T, s, prefix string, b64 bool) {
		enc := "hex"
		if b64 {
			enc = "base64"
		}
		b, ok := decodeSignature(s, prefix, enc)
		if !ok {
			return
		}
		if !strings.HasPrefix(s, prefix) {
			t.Fatalf("accepted %q without prefix %q", s, prefix)
		}
		rest := s[len(prefix):]
		if !b64 {
			if !strings.EqualFold(rest, hex.EncodeToString(b)) {
				t.Fatalf("hex %q decoded to %x", rest, b)
			}
			return
		}
		for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if e.EncodeToString(b) == rest {
				return
			}
		}
		t.Fatalf("base64 %q decoded to %x, which no encoding spells that way", rest, b)
	})
}

func FuzzJSONPointer(f *testing.F) {
	body := `{"id":"e1","data":{"id":7,"a/b":[1,{"c~d":"x"}]},"":{"":0}}`
	for _, p := range []string{"", "/", "/id", "/data/id", "/data/a~1b/1/c~0d", "/data/a~1b/01", "//", "/~", "/~2", "id"} {
		f.Add(p, []byte(body))
	}
	f.Add("/id", []byte(`{"id":`))
	f.Add("/0", []byte(`["a"]`))
	f.Fuzz(func(t *testing.T, p string, body []byte) {
		tokens, ok := parsePointer(p)
		if !ok {
			if dedupKeyProblem("json:"+p) == "" {
				t.Fatalf("config validation accepts pointer %q that parsePointer refuses", p)
			}
			return
		}
		var b strings.Builder
		for _, tok := range tokens {
			b.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1"))
		}
		if b.String() != p {
			t.Fatalf("pointer %q parsed to %q, which re-escapes to %q", p, tokens, b.String())
		}
		if got := dedupKey("json:"+p, "", Request{Body: body}); len(got) > MaxDedupKeyLen {
			t.Fatalf("dedup key of %d bytes exceeds MaxDedupKeyLen", len(got))
		}
	})
}

func contains(items []string, want string) bool {
	for _, it := range items {
		if it == want {
			return true
		}
	}
	return false
}

func containsFold(items []string, want string) bool {
	for _, it := range items {
		if strings.EqualFold(it, want) {
			return true
		}
	}
	return false
}
