package ingest

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// Fuzz targets for the header parsers the presets added. Each checks that
// what a parser accepts is exactly what the input says, and never panics.

func FuzzParseSchemeList(f *testing.F) {
	sig := strings.Repeat("ab", 32)
	for _, s := range []string{"v1=" + sig, "v1=" + sig + ", v1=" + strings.Repeat("CD", 32), "v2=x,v1=" + sig, "v1=zz", "v1", ",", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sigs, ok := parseSchemeList(s, "v1")
		if !ok {
			return
		}
		if len(sigs) == 0 {
			t.Fatalf("accepted %q without a v1 item", s)
		}
		var items []string
		for it := range strings.SplitSeq(s, ",") {
			items = append(items, strings.TrimLeft(it, " "))
		}
		for _, sig := range sigs {
			if !containsFold(items, "v1="+hex.EncodeToString(sig)) {
				t.Fatalf("signature %x is not an item of %q", sig, s)
			}
		}
	})
}

func FuzzParsePaddleSignature(f *testing.F) {
	sig := strings.Repeat("ab", 32)
	for _, s := range []string{"ts=1671552777;h1=" + sig, "ts=1;h1=" + sig + ";h1=00", "h1=" + sig, "ts=01;h1=00", "ts=1;ts=2;h1=00", ";", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, n, sigs, ok := parsePaddleSignature(s)
		if !ok {
			return
		}
		if len(sigs) == 0 {
			t.Fatalf("accepted %q without h1", s)
		}
		items := strings.Split(s, ";")
		if m, ok := parseTimestamp(ts); !ok || m != n || !contains(items, "ts="+ts) {
			t.Fatalf("accepted %q with timestamp %q / %d", s, ts, n)
		}
		for _, sig := range sigs {
			if !containsFold(items, "h1="+hex.EncodeToString(sig)) {
				t.Fatalf("signature %x is not an item of %q", sig, s)
			}
		}
	})
}

func FuzzParseJWSHS256(f *testing.F) {
	enc := base64.RawURLEncoding
	good := enc.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + enc.EncodeToString([]byte(`{"iss":"netlify"}`)) + "." + enc.EncodeToString([]byte("sig"))
	for _, s := range []string{good, good + "=", "a.b", "a.b.c.d", enc.EncodeToString([]byte(`{"alg":"none"}`)) + ".e30.c2ln", "..", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		signed, sig, payload, ok := parseJWSHS256(s)
		if !ok {
			return
		}
		if signed+"."+enc.EncodeToString(sig) != s {
			t.Fatalf("accepted %q: signing input %q and signature %x do not rebuild it", s, signed, sig)
		}
		_, p, _ := strings.Cut(signed, ".")
		if enc.EncodeToString(payload) != p {
			t.Fatalf("accepted %q: payload %q is not its second part", s, payload)
		}
	})
}

func FuzzTwilioURLs(f *testing.F) {
	for _, s := range []string{"https://a.example/x?y=1", "http://a:80/", "https://a:8443/p", "ftp://a/", "%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		us := twilioURLs(s)
		if len(us) == 0 || len(us) > 2 || us[0] != s {
			t.Fatalf("twilioURLs(%q) = %q: want the URL itself first, at most one variant", s, us)
		}
	})
}
