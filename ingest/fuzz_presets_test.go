package ingest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
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

// fuzzPresetCase is one preset's correctly signed request, the seed of
// FuzzVerifyPresets.
type fuzzPresetCase struct {
	typ   string
	cfg   *SourceConfig
	req   Request
	names []string // the signed request's header names, sorted
}

func fuzzPresetCases(f *testing.F) []fuzzPresetCase {
	f.Helper()
	var out []fuzzPresetCase
	for _, typ := range Types() {
		if typ == TypeNone || typ == TypeHMAC || typ == TypeToken || typ == TypeBasic {
			continue // covered by their own fuzz targets
		}
		sign, verify := fuzzKeys(typ)
		cfg := &SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: typ, Secrets: []string{verify}}}
		if err := cfg.Normalize(); err != nil {
			f.Fatal(err)
		}
		s, err := SignRequest(cfg, sign, "POST", "https://h.example/hooks/s", signBodyFor(typ), testNow, "evt-fuzz")
		if err != nil {
			f.Fatal(err)
		}
		var names []string
		for k := range s.Header {
			names = append(names, k)
		}
		slices.Sort(names)
		out = append(out, fuzzPresetCase{typ: typ, cfg: cfg, req: Request{Method: "POST", URL: s.URL, Header: s.Header, Body: s.Body}, names: names})
	}
	return out
}

// fuzzKeys: fixed keys (the fuzz target must be deterministic).
func fuzzKeys(typ string) (sign, verify string) {
	switch typ {
	case TypeStandard, TypeSvix, TypeResend, TypeClerk:
		return "whsec_a2V5LWJ5dGVz", "whsec_a2V5LWJ5dGVz"
	case TypeDiscord:
		seed := []byte("fuzz-discord-seed-of-32-bytes!!!")
		return hex.EncodeToString(seed), hex.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	case TypeSendGrid:
		return sendGridTestPriv, sendGridTestPub
	}
	return "fuzz-secret", "fuzz-secret"
}

// FuzzVerifyPresets mutates one header value, or the body, of a preset's
// signed request. Verify never panics, refuses only with a *VerifyError,
// and never accepts another body for a preset whose credential covers the
// body (without the secret the fuzzer cannot forge it).
func FuzzVerifyPresets(f *testing.F) {
	cases := fuzzPresetCases(f)
	for i, c := range cases {
		f.Add(uint8(i), uint8(255), "", c.req.Body)
		f.Add(uint8(i), uint8(0), "", c.req.Body)
		f.Add(uint8(i), uint8(0), "v1=00", append([]byte("x"), c.req.Body...))
	}
	f.Fuzz(func(t *testing.T, ci, hi uint8, val string, body []byte) {
		c := cases[int(ci)%len(cases)]
		req := c.req
		req.Header = c.req.Header.Clone()
		if int(hi) < len(c.names) {
			req.Header.Set(c.names[hi], val)
		}
		req.Body = body
		res, err := Verify(c.cfg, req, testNow)
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("%s: refused with %T %v, want a *VerifyError", c.typ, err, err)
			}
			return
		}
		if !bodyUncovered[c.typ] && !bytes.Equal(body, c.req.Body) {
			t.Fatalf("%s: accepted another body %q (result %+v)", c.typ, body, res)
		}
	})
}
