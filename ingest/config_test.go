package ingest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNormalizeFillsDefaults(t *testing.T) {
	c := SourceConfig{Queues: []string{"orders"}, Verify: VerifyConfig{Type: "hmac", Header: "X-Sig", Secrets: []string{"k"}}}
	if err := c.Normalize(); err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	want := SourceConfig{
		Queues: []string{"orders"},
		Verify: VerifyConfig{Type: "hmac", Header: "X-Sig", Secrets: []string{"k"},
			Algorithm: "sha256", Encoding: "hex", Tolerance: 300 * time.Second},
		Dedup:        DedupConfig{Key: "provider", Window: 24 * time.Hour},
		MaxBodyBytes: 1 << 20,
	}
	if c.Verify.Algorithm != want.Verify.Algorithm || c.Verify.Encoding != want.Verify.Encoding ||
		c.Verify.Tolerance != want.Verify.Tolerance || c.Dedup != want.Dedup || c.MaxBodyBytes != want.MaxBodyBytes {
		t.Fatalf("Normalize filled %+v, want %+v", c, want)
	}
}

func TestNormalizeKeepsExplicitSettings(t *testing.T) {
	c := SourceConfig{
		Queues:       []string{"a", "b.dlq"},
		Verify:       VerifyConfig{Type: "hmac", Header: "X-Sig", Secrets: []string{"k"}, Algorithm: "sha512", Encoding: "base64", Prefix: "sha512=", Tolerance: time.Minute},
		Dedup:        DedupConfig{Key: "json:/data/id", Window: time.Hour},
		MaxBodyBytes: 4096,
	}
	before := c
	if err := c.Normalize(); err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	if c.Verify.Algorithm != before.Verify.Algorithm || c.Verify.Encoding != before.Verify.Encoding ||
		c.Verify.Tolerance != before.Verify.Tolerance || c.Dedup != before.Dedup || c.MaxBodyBytes != before.MaxBodyBytes {
		t.Fatalf("Normalize changed explicit settings: %+v -> %+v", before, c)
	}
}

func TestNormalizeLeavesHMACSettingsOfOtherTypesAlone(t *testing.T) {
	c := SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "github", Secrets: []string{"k"}}}
	if err := c.Normalize(); err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	if c.Verify.Algorithm != "" || c.Verify.Encoding != "" {
		t.Fatalf("hmac-only defaults filled for github: %+v", c.Verify)
	}
}

func TestNormalizeAcceptsEveryTypeWithAGoodSecret(t *testing.T) {
	good := map[string]VerifyConfig{
		"none":     {Type: "none"},
		"token":    {Type: "token", Secrets: []string{"t"}},
		"basic":    {Type: "basic", Secrets: []string{"u:p"}},
		"hmac":     {Type: "hmac", Header: "X-Sig", Secrets: []string{"k"}},
		"github":   {Type: "github", Secrets: []string{"k"}},
		"stripe":   {Type: "stripe", Secrets: []string{"whsec_abc"}},
		"shopify":  {Type: "shopify", Secrets: []string{"k"}},
		"slack":    {Type: "slack", Secrets: []string{"k"}},
		"standard": {Type: "standard", Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a2V5"}},
	}
	for name, v := range good {
		t.Run(name, func(t *testing.T) {
			c := SourceConfig{Queues: []string{"q"}, Verify: v}
			if err := c.Normalize(); err != nil {
				t.Fatalf("Normalize: %v", err)
			}
		})
	}
}

func TestNormalizeRejectsBadConfigNamingTheField(t *testing.T) {
	base := func() SourceConfig {
		return SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "github", Secrets: []string{"k"}}}
	}
	hmacCfg := func(mut func(*VerifyConfig)) SourceConfig {
		c := SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "hmac", Header: "X-Sig", Secrets: []string{"k"}}}
		mut(&c.Verify)
		return c
	}
	with := func(mut func(*SourceConfig)) SourceConfig { c := base(); mut(&c); return c }
	cases := []struct {
		name  string
		cfg   SourceConfig
		field string
	}{
		{"no queues", with(func(c *SourceConfig) { c.Queues = nil }), "queues"},
		{"empty queue name", with(func(c *SourceConfig) { c.Queues = []string{""} }), "queues[0]"},
		{"queue name starting with dot", with(func(c *SourceConfig) { c.Queues = []string{"ok", ".hidden"} }), "queues[1]"},
		{"queue name with slash", with(func(c *SourceConfig) { c.Queues = []string{"a/b"} }), "queues[0]"},
		{"queue name too long", with(func(c *SourceConfig) { c.Queues = []string{strings.Repeat("a", 129)} }), "queues[0]"},
		{"duplicate queue", with(func(c *SourceConfig) { c.Queues = []string{"a", "b", "a"} }), "queues[2]"},
		{"unknown verify type", with(func(c *SourceConfig) { c.Verify.Type = "paypal" }), "verify.type"},
		{"empty verify type", with(func(c *SourceConfig) { c.Verify.Type = "" }), "verify.type"},
		{"verify type wrong case", with(func(c *SourceConfig) { c.Verify.Type = "GitHub" }), "verify.type"},
		{"missing secret", with(func(c *SourceConfig) { c.Verify.Secrets = nil }), "verify.secrets"},
		{"empty secret", with(func(c *SourceConfig) { c.Verify.Secrets = []string{"k", ""} }), "verify.secrets[1]"},
		{"token without secret", SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "token"}}, "verify.secrets"},
		{"basic secret without colon", SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "basic", Secrets: []string{"userpass"}}}, "verify.secrets[0]"},
		{"standard secret not base64", SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "standard", Secrets: []string{"whsec_not base64!"}}}, "verify.secrets[0]"},
		{"standard secret decodes to nothing", SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "standard", Secrets: []string{"whsec_"}}}, "verify.secrets[0]"},
		{"hmac without header", hmacCfg(func(v *VerifyConfig) { v.Header = "" }), "verify.header"},
		{"hmac header with space", hmacCfg(func(v *VerifyConfig) { v.Header = "X Sig" }), "verify.header"},
		{"hmac header with colon", hmacCfg(func(v *VerifyConfig) { v.Header = "X-Sig:" }), "verify.header"},
		{"hmac unknown algorithm", hmacCfg(func(v *VerifyConfig) { v.Algorithm = "md5" }), "verify.algorithm"},
		{"hmac unknown encoding", hmacCfg(func(v *VerifyConfig) { v.Encoding = "base32" }), "verify.encoding"},
		{"hmac prefix with control char", hmacCfg(func(v *VerifyConfig) { v.Prefix = "sha256=\n" }), "verify.prefix"},
		{"negative tolerance", with(func(c *SourceConfig) { c.Verify.Tolerance = -time.Second }), "verify.tolerance"},
		{"unknown dedup key", with(func(c *SourceConfig) { c.Dedup.Key = "body" }), "dedup.key"},
		{"dedup header without name", with(func(c *SourceConfig) { c.Dedup.Key = "header:" }), "dedup.key"},
		{"dedup header bad name", with(func(c *SourceConfig) { c.Dedup.Key = "header:X Id" }), "dedup.key"},
		{"dedup json pointer without slash", with(func(c *SourceConfig) { c.Dedup.Key = "json:data/id" }), "dedup.key"},
		{"dedup json pointer bad escape", with(func(c *SourceConfig) { c.Dedup.Key = "json:/a~2b" }), "dedup.key"},
		{"dedup json pointer trailing tilde", with(func(c *SourceConfig) { c.Dedup.Key = "json:/a~" }), "dedup.key"},
		{"negative dedup window", with(func(c *SourceConfig) { c.Dedup.Window = -time.Hour }), "dedup.window"},
		{"negative body limit", with(func(c *SourceConfig) { c.MaxBodyBytes = -1 }), "maxBodyBytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			err := cfg.Normalize()
			if err == nil {
				t.Fatalf("Normalize accepted a bad config %+v", tc.cfg)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Normalize error %T %v is not a *ConfigError wrapping ErrInvalidConfig", err, err)
			}
			if ce.Field != tc.field {
				t.Fatalf("ConfigError field = %q, want %q (%v)", ce.Field, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error text %q does not name the field %q", err.Error(), tc.field)
			}
		})
	}
}

func TestNormalizeErrorsNeverEchoSecrets(t *testing.T) {
	for _, c := range []SourceConfig{
		{Queues: []string{"q"}, Verify: VerifyConfig{Type: "basic", Secrets: []string{"TOPSECRETVALUE"}}},
		{Queues: []string{"q"}, Verify: VerifyConfig{Type: "standard", Secrets: []string{"whsec_TOPSECRETVALUE!"}}},
	} {
		err := c.Normalize()
		if err == nil || strings.Contains(err.Error(), "TOPSECRETVALUE") {
			t.Fatalf("Normalize error %v leaks the secret (or is nil)", err)
		}
	}
}

func TestNormalizeAcceptsValidDedupKeys(t *testing.T) {
	for _, key := range []string{"", "provider", "none", "header:X-Request-Id", "json:", "json:/", "json:/id", "json:/data/items/0/id", "json:/a~0b/c~1d", "json:/"} {
		c := SourceConfig{Queues: []string{"q"}, Verify: VerifyConfig{Type: "none"}, Dedup: DedupConfig{Key: key}}
		if err := c.Normalize(); err != nil {
			t.Errorf("dedup key %q refused: %v", key, err)
		}
	}
}

func TestValidNameFollowsSpecRegexp(t *testing.T) {
	cases := map[string]bool{
		"a": true, "Z9": true, "orders.dlq": true, "a_b-c.d": true, "0": true,
		strings.Repeat("x", 128): true, strings.Repeat("x", 129): false,
		"": false, "-a": false, ".a": false, "_a": false, "a b": false, "a/b": false, "é": false, "a\x00": false,
	}
	for name, want := range cases {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNormalizeNilConfigIsAnError(t *testing.T) {
	var c *SourceConfig
	if err := c.Normalize(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil Normalize = %v", err)
	}
}
