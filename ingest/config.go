package ingest

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Verification types (docs/API.md §4.2).
const (
	TypeNone     = "none"
	TypeToken    = "token"
	TypeBasic    = "basic"
	TypeHMAC     = "hmac"
	TypeGitHub   = "github"
	TypeStripe   = "stripe"
	TypeShopify  = "shopify"
	TypeSlack    = "slack"
	TypeStandard = "standard"
)

// Defaults of docs/API.md §4.1.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultTolerance    = 300 * time.Second
	DefaultDedupWindow  = 24 * time.Hour
	DefaultDedupKey     = "provider"
	DefaultAlgorithm    = "sha256"
	DefaultEncoding     = "hex"
)

// Upper bounds on source settings. They keep every value inside what the
// rest of the system can carry: a body must fit one Raft entry and one
// forwarding call, and now+window must not overflow int64 nanoseconds.
const (
	MaxMaxBodyBytes    = 16 << 20             // maxBodyBytes ≤ 16 MiB
	MaxTolerance       = 24 * time.Hour       // verify.tolerance ≤ 24h
	MaxDedupWindow     = 365 * 24 * time.Hour // dedup.window ≤ 8760h
	MaxSourceQueues    = 32                   // fan-out: queues per source
	MaxSecrets         = 16                   // verify.secrets entries
	MaxSecretBytes     = 4096                 // bytes per secret
	MaxPrefixBytes     = 64                   // verify.prefix
	MaxHeaderNameBytes = 256                  // verify.header, header:<Name>
	MaxDedupRuleBytes  = 1024                 // dedup.key rule text
)

// VerifyConfig is a source's verification settings (docs/API.md §4.1, §4.2).
type VerifyConfig struct {
	Type      string        // one of Types(): none|token|basic|hmac|standard or a provider preset
	Secrets   []string      // any one matching passes (rotation)
	Header    string        // hmac only: header carrying the signature
	Algorithm string        // hmac only: sha1|sha256|sha512 (default sha256)
	Encoding  string        // hmac only: hex|base64 (default hex)
	Prefix    string        // hmac only: optional prefix such as "sha256="
	Tolerance time.Duration // the presets with a signed timestamp: replay window (default 300s)
}

// DedupConfig says which key identifies a repeated delivery and for how long.
type DedupConfig struct {
	Key    string        // "provider" (default) | "header:<Name>" | "json:<RFC 6901 pointer>" | "none"
	Window time.Duration // default 24h
}

// SourceConfig is everything ingest needs to know about one source.
type SourceConfig struct {
	Queues       []string
	Verify       VerifyConfig
	Dedup        DedupConfig
	MaxBodyBytes int64 // default 1 MiB (1<<20)
}

// Normalize fills the defaults of docs/API.md §4.1 (dedup key "provider", window
// 24h, tolerance 300s, hmac algorithm sha256 and encoding hex, body limit
// 1 MiB) and validates the whole config. It returns the first problem found
// as a *ConfigError naming the field. Secrets are checked but never echoed.
func (c *SourceConfig) Normalize() error {
	if c == nil {
		return cfgErr("source", "missing")
	}
	if len(c.Queues) == 0 {
		return cfgErr("queues", "at least one queue is required")
	}
	if len(c.Queues) > MaxSourceQueues {
		return cfgErr("queues", fmt.Sprintf("at most %d queues per source", MaxSourceQueues))
	}
	seen := make(map[string]bool, len(c.Queues))
	for i, q := range c.Queues {
		field := "queues[" + strconv.Itoa(i) + "]"
		if !ValidName(q) {
			return cfgErr(field, fmt.Sprintf("invalid queue name %q: want ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", q))
		}
		if seen[q] {
			return cfgErr(field, fmt.Sprintf("duplicate queue %q", q))
		}
		seen[q] = true
	}
	if err := c.Verify.normalize(); err != nil {
		return err
	}
	if err := c.Dedup.normalize(); err != nil {
		return err
	}
	switch {
	case c.MaxBodyBytes == 0:
		c.MaxBodyBytes = DefaultMaxBodyBytes
	case c.MaxBodyBytes < 0:
		return cfgErr("maxBodyBytes", "must be positive")
	case c.MaxBodyBytes > MaxMaxBodyBytes:
		return cfgErr("maxBodyBytes", fmt.Sprintf("must be at most %d (16 MiB)", MaxMaxBodyBytes))
	}
	return nil
}

// hmacScheme is an hmac source's algorithm and encoding with the defaults
// of docs/API.md §4.1 applied: the one place they are applied (Normalize
// stores them; Verify and Sign use them on configs that were not
// normalized).
func (v *VerifyConfig) hmacScheme() (alg, enc string) {
	alg, enc = v.Algorithm, v.Encoding
	if alg == "" {
		alg = DefaultAlgorithm
	}
	if enc == "" {
		enc = DefaultEncoding
	}
	return alg, enc
}

func (v *VerifyConfig) normalize() error {
	if !knownType(v.Type) {
		return cfgErr("verify.type", fmt.Sprintf("unknown type %q: want one of %s", v.Type, strings.Join(Types(), ", ")))
	}
	switch {
	case v.Tolerance == 0:
		v.Tolerance = DefaultTolerance
	case v.Tolerance < 0:
		return cfgErr("verify.tolerance", "must be positive")
	case v.Tolerance > MaxTolerance:
		return cfgErr("verify.tolerance", "must be at most 24h")
	}
	if len(v.Secrets) > MaxSecrets {
		return cfgErr("verify.secrets", fmt.Sprintf("at most %d secrets", MaxSecrets))
	}
	if v.Type != TypeNone {
		if len(v.Secrets) == 0 && !requestPresets[v.Type].noSecrets {
			return cfgErr("verify.secrets", "at least one secret is required for type "+v.Type)
		}
		for i, s := range v.Secrets {
			if msg := secretProblem(v.Type, s); msg != "" {
				return cfgErr("verify.secrets["+strconv.Itoa(i)+"]", msg)
			}
		}
	}
	if v.Type != TypeHMAC {
		return nil
	}
	if !validHeaderName(v.Header) {
		return cfgErr("verify.header", fmt.Sprintf("invalid header name %q", v.Header))
	}
	v.Algorithm, v.Encoding = v.hmacScheme()
	if hashFor(v.Algorithm) == nil {
		return cfgErr("verify.algorithm", fmt.Sprintf("unknown algorithm %q: want sha1, sha256 or sha512", v.Algorithm))
	}
	if v.Encoding != "hex" && v.Encoding != "base64" {
		return cfgErr("verify.encoding", fmt.Sprintf("unknown encoding %q: want hex or base64", v.Encoding))
	}
	if len(v.Prefix) > MaxPrefixBytes {
		return cfgErr("verify.prefix", fmt.Sprintf("must be at most %d bytes", MaxPrefixBytes))
	}
	for i := 0; i < len(v.Prefix); i++ {
		if c := v.Prefix[i]; c < 0x21 || c > 0x7e {
			return cfgErr("verify.prefix", "must be printable ASCII without spaces")
		}
	}
	return nil
}

// secretProblem says what is wrong with one secret for type t, or "".
// The message never contains the secret.
func secretProblem(t, s string) string {
	if s == "" {
		return "must not be empty"
	}
	if len(s) > MaxSecretBytes {
		return fmt.Sprintf("must be at most %d bytes", MaxSecretBytes)
	}
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	switch t {
	case TypeBasic:
		if !strings.Contains(s, ":") {
			return `must have the form "user:password"`
		}
	case TypeStandard, TypeSvix, TypeResend, TypeClerk:
		if _, ok := standardKey(s); !ok {
			return `must be base64 (optionally after "whsec_") of a non-empty key`
		}
	}
	if p, ok := requestPresets[t]; ok && p.secretProblem != nil {
		return p.secretProblem(s)
	}
	return ""
}

// standardKey decodes a Standard Webhooks secret: base64 after an optional
// "whsec_" prefix, exactly as the reference library does.
func standardKey(secret string) ([]byte, bool) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, false
	}
	return key, true
}

func (d *DedupConfig) normalize() error {
	if d.Key == "" {
		d.Key = DefaultDedupKey
	}
	if msg := dedupKeyProblem(d.Key); msg != "" {
		return cfgErr("dedup.key", msg)
	}
	switch {
	case d.Window == 0:
		d.Window = DefaultDedupWindow
	case d.Window < 0:
		return cfgErr("dedup.window", "must be positive")
	case d.Window > MaxDedupWindow:
		return cfgErr("dedup.window", "must be at most 8760h (365 days)")
	}
	return nil
}

func dedupKeyProblem(key string) string {
	if len(key) > MaxDedupRuleBytes || !utf8.ValidString(key) {
		return fmt.Sprintf("must be valid UTF-8 of at most %d bytes", MaxDedupRuleBytes)
	}
	switch {
	case key == "provider" || key == "none":
		return ""
	case strings.HasPrefix(key, "header:"):
		if name := strings.TrimPrefix(key, "header:"); !validHeaderName(name) {
			return fmt.Sprintf("invalid header name %q in %q", name, key)
		}
		return ""
	case strings.HasPrefix(key, "json:"):
		if _, ok := parsePointer(strings.TrimPrefix(key, "json:")); !ok {
			return fmt.Sprintf("invalid RFC 6901 JSON pointer in %q: want \"\" or \"/a/b\", escapes ~0 and ~1 only", key)
		}
		return ""
	}
	return fmt.Sprintf("unknown dedup key %q: want provider, none, header:<Name> or json:<pointer>", key)
}

// Types lists every verify.type, the generic ones first, then the
// provider presets in alphabetical order.
func Types() []string {
	out := []string{TypeNone, TypeToken, TypeBasic, TypeHMAC, TypeStandard}
	presets := []string{TypeGitHub, TypeStripe, TypeShopify, TypeSlack, TypeSvix, TypeResend, TypeClerk}
	for t := range bodyPresets {
		presets = append(presets, t)
	}
	for t := range requestPresets {
		presets = append(presets, t)
	}
	slices.Sort(presets)
	return append(out, presets...)
}

func knownType(t string) bool {
	switch t {
	case TypeNone, TypeToken, TypeBasic, TypeHMAC, TypeGitHub, TypeStripe, TypeShopify, TypeSlack, TypeStandard,
		TypeSvix, TypeResend, TypeClerk:
		return true
	}
	if _, ok := bodyPresets[t]; ok {
		return true
	}
	_, ok := requestPresets[t]
	return ok
}

// ValidName reports whether name is a valid source or queue name:
// ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (docs/API.md §1.2).
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return false
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// validHeaderName reports whether s is a non-empty RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" || len(s) > MaxHeaderNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
