package ingest

import (
	"crypto/sha1" // #nosec G505 -- HMAC-SHA1 only, for sources configured with verify.algorithm sha1 (providers that sign with it); not used for anything else
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"strconv"
	"strings"
)

// Header parsers. Each is strict about syntax that carries meaning (scheme
// names, timestamps, encodings) so that a request is accepted only when the
// bytes it carries are the bytes that were signed: base64 must be canonical,
// timestamps must be canonical decimal. Hex is accepted in either case.

// headerValue returns the first value of header name, looking the name up
// canonically and, failing that, case-insensitively (for callers that built
// the http.Header by hand). An empty value counts as absent.
func headerValue(h http.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && vs[0] != "" && strings.EqualFold(k, name) {
			return vs[0]
		}
	}
	return ""
}

// maxUnix bounds accepted timestamps (year ~36812) so that time arithmetic
// never overflows; anything larger is simply "in the future".
const maxUnix = 1 << 40

// parseTimestamp parses a canonical non-negative decimal number of Unix
// seconds: no sign, no leading zeros (except "0"), no spaces.
func parseTimestamp(s string) (int64, bool) {
	if s == "" || len(s) > 19 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// decodeHex decodes hex of either case; it rejects odd lengths and non-hex.
func decodeHex(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// decodeBase64 decodes canonical base64 in the standard or URL-safe
// alphabet, padded or not. Non-canonical spellings (stray trailing bits,
// line breaks, mixed alphabets) are refused so that one MAC has exactly one
// accepted encoding per alphabet and padding choice.
func decodeBase64(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	var enc *base64.Encoding
	urlSafe := strings.ContainsAny(s, "-_")
	padded := strings.HasSuffix(s, "=")
	switch {
	case urlSafe && padded:
		enc = base64.URLEncoding
	case urlSafe:
		enc = base64.RawURLEncoding
	case padded:
		enc = base64.StdEncoding
	default:
		enc = base64.RawStdEncoding
	}
	enc = enc.Strict()
	b, err := enc.DecodeString(s)
	if err != nil || enc.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// decodeStdBase64 decodes canonical, padded, standard-alphabet base64 (what
// Shopify and Standard Webhooks send).
func decodeStdBase64(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// parsePrefixedHex strips a required scheme prefix ("sha256=", "v0=") and
// hex-decodes the rest.
func parsePrefixedHex(s, prefix string) ([]byte, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return nil, false
	}
	return decodeHex(rest)
}

// decodeSignature decodes a generic hmac signature header value: the
// configured prefix (required when set) is stripped, then the rest decoded
// as hex or base64.
func decodeSignature(s, prefix, encoding string) ([]byte, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return nil, false
	}
	if encoding == "base64" {
		return decodeBase64(rest)
	}
	return decodeHex(rest)
}

// stripeHeader is a parsed Stripe-Signature header.
type stripeHeader struct {
	t    string   // the timestamp exactly as sent (canonical decimal)
	ts   int64    // t as a number
	sigs [][]byte // every v1 signature, decoded
}

// parseStripeHeader parses "t=<unix>,v1=<hex>[,v1=<hex>...]". Other schemes
// (v0, future ones) are ignored, as Stripe's libraries do. Exactly one t is
// required, and at least one v1; every v1 must be valid hex.
func parseStripeHeader(s string) (stripeHeader, bool) {
	var h stripeHeader
	haveT := false
	for item := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return stripeHeader{}, false
		}
		switch k {
		case "t":
			ts, ok := parseTimestamp(v)
			if !ok || haveT {
				return stripeHeader{}, false
			}
			h.t, h.ts, haveT = v, ts, true
		case "v1":
			sig, ok := decodeHex(v)
			if !ok {
				return stripeHeader{}, false
			}
			h.sigs = append(h.sigs, sig)
		}
	}
	if !haveT || len(h.sigs) == 0 {
		return stripeHeader{}, false
	}
	return h, true
}

// parseStandardSignatures parses a Standard Webhooks signature header:
// space-separated "<version>,<base64>" entries. It returns the decoded v1
// signatures; other versions (such as the asymmetric v1a) and entries that
// are not "<version>,<value>" are skipped, as the reference libraries do.
func parseStandardSignatures(s string) ([][]byte, bool) {
	var sigs [][]byte
	for entry := range strings.SplitSeq(s, " ") {
		version, value, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		if sig, ok := decodeStdBase64(value); ok {
			sigs = append(sigs, sig)
		}
	}
	return sigs, len(sigs) > 0
}

// parseBasicAuth parses "Basic <base64(user:password)>" (scheme name
// case-insensitive, RFC 7617) and returns "user:password".
func parseBasicAuth(s string) (string, bool) {
	scheme, cred, ok := strings.Cut(s, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", false
	}
	raw, ok := decodeStdBase64(cred)
	if !ok || !strings.Contains(string(raw), ":") {
		return "", false
	}
	return string(raw), true
}

// hashFor maps a verify.algorithm name to its hash, or nil.
func hashFor(alg string) func() hash.Hash {
	switch alg {
	case "sha1":
		return sha1.New
	case "sha256":
		return sha256.New
	case "sha512":
		return sha512.New
	}
	return nil
}
