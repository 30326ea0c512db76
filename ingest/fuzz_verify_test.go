package ingest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// Fuzz targets for the verifiers. Each seeds a correctly signed request and
// lets the fuzzer mutate the body and the signature-bearing headers. The
// property: Verify never panics, and it accepts only the signed original
// (same body, same signed id/timestamp, the same signature up to hex case).
// Without the secret the fuzzer cannot forge a MAC, so any other accepted
// input is a verifier bug.

var fuzzOrigBody = []byte(`{"id":"evt_fuzz","event_id":"Ev_fuzz","type":"test"}`)

func fuzzCfg(t testing.TB, v VerifyConfig) *SourceConfig {
	t.Helper()
	cfg := &SourceConfig{Queues: []string{"q"}, Verify: v}
	if err := cfg.Normalize(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func FuzzVerifyToken(f *testing.F) {
	f.Add("tok-A", "")
	f.Add("", "tok-B")
	f.Add("tok-a", "tok-A")
	f.Add("tok-A\x00", "")
	f.Add("", "")
	cfg := fuzzCfg(f, VerifyConfig{Type: "token", Secrets: secrets("tok-A", "tok-B")})
	f.Fuzz(func(t *testing.T, header, query string) {
		req := Request{Header: hdr("X-Webhook-Token", header), Query: url.Values{"token": {query}}}
		_, err := Verify(cfg, req, testNow)
		presented := header
		if presented == "" {
			presented = query
		}
		want := presented == "tok-A" || presented == "tok-B"
		if (err == nil) != want {
			t.Fatalf("Verify(header %q, query %q) = %v, want accepted=%v", header, query, err, want)
		}
	})
}

func FuzzVerifyBasic(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")))
	f.Add("basic " + base64.StdEncoding.EncodeToString([]byte("bob:pw2")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pX")))
	f.Add("Basic YWxpY2U6cHc")
	f.Add("Bearer x")
	cfg := fuzzCfg(f, VerifyConfig{Type: "basic", Secrets: secrets("alice:pw", "bob:pw2")})
	f.Fuzz(func(t *testing.T, auth string) {
		_, err := Verify(cfg, Request{Header: hdr("Authorization", auth)}, testNow)
		if err != nil {
			return
		}
		if len(auth) < 6 || !strings.EqualFold(auth[:6], "Basic ") {
			t.Fatalf("accepted %q without the Basic scheme", auth)
		}
		rest := auth[6:]
		if rest != base64.StdEncoding.EncodeToString([]byte("alice:pw")) && rest != base64.StdEncoding.EncodeToString([]byte("bob:pw2")) {
			t.Fatalf("accepted %q, which is no secret's canonical credential", auth)
		}
	})
}

func FuzzVerifyHMAC(f *testing.F) {
	type variant struct {
		alg, enc, prefix string
		h                func() hash.Hash
	}
	variants := []variant{
		{"sha256", "hex", "", sha256.New},
		{"sha1", "hex", "sha1=", sha1.New},
		{"sha512", "base64", "", sha512.New},
		{"sha256", "base64", "v1=", sha256.New},
	}
	sigFor := func(v variant) string {
		if v.enc == "base64" {
			return v.prefix + macB64(v.h, "hmac-secret", string(fuzzOrigBody))
		}
		return v.prefix + macHex(v.h, "hmac-secret", string(fuzzOrigBody))
	}
	for i, v := range variants {
		f.Add(fuzzOrigBody, sigFor(v), uint8(i))
		f.Add(append([]byte{' '}, fuzzOrigBody...), sigFor(v), uint8(i))
		f.Add(fuzzOrigBody, strings.ToUpper(sigFor(v)), uint8(i))
	}
	cfgs := make([]*SourceConfig, len(variants))
	for i, v := range variants {
		cfgs[i] = fuzzCfg(f, VerifyConfig{Type: "hmac", Header: "X-Sig", Algorithm: v.alg, Encoding: v.enc, Prefix: v.prefix, Secrets: secrets("other", "hmac-secret")})
	}
	f.Fuzz(func(t *testing.T, body []byte, sig string, which uint8) {
		i := int(which) % len(variants)
		_, err := Verify(cfgs[i], Request{Header: hdr("X-Sig", sig), Body: body}, testNow)
		if err != nil {
			return
		}
		v := variants[i]
		rest, hasPrefix := strings.CutPrefix(sig, v.prefix)
		origMAC := mac(v.h, "hmac-secret", string(fuzzOrigBody))
		same := false
		if v.enc == "hex" {
			same = hasPrefix && strings.EqualFold(rest, hex.EncodeToString(origMAC))
		} else {
			// Any canonical base64 spelling (std or URL alphabet, padded or
			// not) of the original MAC is the same signature.
			for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				same = same || (hasPrefix && rest == e.EncodeToString(origMAC))
			}
		}
		if !bytes.Equal(body, fuzzOrigBody) || !same {
			t.Fatalf("variant %d accepted a mutated request: body %q sig %q", i, body, sig)
		}
	})
}

func FuzzVerifyGitHub(f *testing.F) {
	orig := "sha256=" + macHex(sha256.New, "gh-secret", string(fuzzOrigBody))
	f.Add(fuzzOrigBody, orig)
	f.Add(fuzzOrigBody, "sha256="+strings.ToUpper(orig[7:]))
	f.Add(fuzzOrigBody[1:], orig)
	f.Add(fuzzOrigBody, "sha1="+orig[7:])
	f.Add(fuzzOrigBody, orig[:len(orig)-2])
	cfg := fuzzCfg(f, VerifyConfig{Type: "github", Secrets: secrets("rotated", "gh-secret")})
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		_, err := Verify(cfg, Request{Header: hdr("X-Hub-Signature-256", sig), Body: body}, testNow)
		if err != nil {
			return
		}
		if !bytes.Equal(body, fuzzOrigBody) || !strings.HasPrefix(sig, "sha256=") || !strings.EqualFold(sig, orig) {
			t.Fatalf("accepted a mutated request: body %q sig %q", body, sig)
		}
	})
}

func FuzzVerifyShopify(f *testing.F) {
	orig := macB64(sha256.New, "shop-secret", string(fuzzOrigBody))
	f.Add(fuzzOrigBody, orig)
	f.Add(fuzzOrigBody, strings.TrimRight(orig, "="))
	f.Add(fuzzOrigBody, flipLastBase64Bit(orig))
	f.Add(append(fuzzOrigBody, '\n'), orig)
	cfg := fuzzCfg(f, VerifyConfig{Type: "shopify", Secrets: secrets("shop-secret")})
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		_, err := Verify(cfg, Request{Header: hdr("X-Shopify-Hmac-Sha256", sig), Body: body}, testNow)
		if err == nil && (!bytes.Equal(body, fuzzOrigBody) || sig != orig) {
			t.Fatalf("accepted a mutated request: body %q sig %q", body, sig)
		}
	})
}

func FuzzVerifyStripe(f *testing.F) {
	ts := strconv.FormatInt(testNow.Unix(), 10)
	v1 := macHex(sha256.New, "whsec_fuzz", ts+"."+string(fuzzOrigBody))
	orig := "t=" + ts + ",v1=" + v1
	f.Add(fuzzOrigBody, orig)
	f.Add(fuzzOrigBody, "t="+ts+",v0=00,v1="+strings.Repeat("0", 64)+",v1="+v1)
	f.Add(fuzzOrigBody, "t=0"+ts+",v1="+v1)
	f.Add(fuzzOrigBody, "t="+ts+"0,v1="+v1)
	f.Add(fuzzOrigBody[2:], orig)
	cfg := fuzzCfg(f, VerifyConfig{Type: "stripe", Secrets: secrets("whsec_fuzz")})
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		_, err := Verify(cfg, Request{Header: hdr("Stripe-Signature", header), Body: body}, testNow)
		if err != nil {
			return
		}
		items := strings.Split(header, ",")
		if !bytes.Equal(body, fuzzOrigBody) || !contains(items, "t="+ts) || !containsFold(items, "v1="+v1) {
			t.Fatalf("accepted a mutated request: body %q header %q", body, header)
		}
	})
}

func FuzzVerifySlack(f *testing.F) {
	ts := strconv.FormatInt(testNow.Unix(), 10)
	orig := "v0=" + macHex(sha256.New, "slack-secret", "v0:"+ts+":"+string(fuzzOrigBody))
	f.Add(fuzzOrigBody, orig, ts)
	f.Add(fuzzOrigBody, orig, ts+"0")
	f.Add(fuzzOrigBody, orig, " "+ts)
	f.Add(fuzzOrigBody, "v1="+orig[3:], ts)
	f.Add([]byte(`{"type":"url_verification","challenge":"c"}`), orig, ts)
	cfg := fuzzCfg(f, VerifyConfig{Type: "slack", Secrets: secrets("slack-secret")})
	f.Fuzz(func(t *testing.T, body []byte, sig, stamp string) {
		_, err := Verify(cfg, Request{Header: hdr("X-Slack-Signature", sig, "X-Slack-Request-Timestamp", stamp), Body: body}, testNow)
		if err != nil {
			return
		}
		if !bytes.Equal(body, fuzzOrigBody) || stamp != ts || !strings.HasPrefix(sig, "v0=") || !strings.EqualFold(sig, orig) {
			t.Fatalf("accepted a mutated request: body %q sig %q ts %q", body, sig, stamp)
		}
	})
}

func FuzzVerifyStandard(f *testing.F) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ts := strconv.FormatInt(testNow.Unix(), 10)
	orig := standardSig(secret, "msg_fuzz", ts, string(fuzzOrigBody))
	f.Add(fuzzOrigBody, "msg_fuzz", ts, orig)
	f.Add(fuzzOrigBody, "msg_fuzz", ts, "v1a,AAAA "+orig+" v1,AAAA")
	f.Add(fuzzOrigBody, "msg_fuzz.", ts, orig)
	f.Add(fuzzOrigBody, "msg_fuzz", ts+"0", orig)
	f.Add(fuzzOrigBody, "msg_fuzz", ts, strings.TrimRight(orig, "="))
	f.Add(fuzzOrigBody[:10], "msg_fuzz", ts, orig)
	cfg := fuzzCfg(f, VerifyConfig{Type: "standard", Secrets: secrets("whsec_c2Vjb25k", secret)})
	f.Fuzz(func(t *testing.T, body []byte, id, stamp, sig string) {
		h := hdr("webhook-id", id, "webhook-timestamp", stamp, "webhook-signature", sig)
		res, err := Verify(cfg, Request{Header: h, Body: body}, testNow)
		if err != nil {
			return
		}
		if !bytes.Equal(body, fuzzOrigBody) || id != "msg_fuzz" || stamp != ts || !contains(strings.Split(sig, " "), orig) {
			t.Fatalf("accepted a mutated request: body %q id %q ts %q sig %q", body, id, stamp, sig)
		}
		if res.EventID != id {
			t.Fatalf("event id %q, want %q", res.EventID, id)
		}
	})
}
