package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDedupKeyLen bounds the dedup key Verify returns. A longer extracted
// value (a big header, a JSON object) is replaced by "sha256:" and the hex
// SHA-256 of the value, so storage keys stay small and fixed-size at worst.
const MaxDedupKeyLen = 200

// eventID returns the provider event id of a verified request (docs/API.md §4.2
// table), or "" for types that have none.
func eventID(typ string, req Request) string {
	switch typ {
	case TypeGitHub:
		return headerValue(req.Header, "X-GitHub-Delivery")
	case TypeStripe:
		return jsonText(req.Body, []string{"id"})
	case TypeShopify:
		if id := headerValue(req.Header, "X-Shopify-Event-Id"); id != "" {
			return id
		}
		return headerValue(req.Header, "X-Shopify-Webhook-Id")
	case TypeSlack:
		return jsonText(req.Body, []string{"event_id"})
	}
	if p, ok := bodyPresets[typ]; ok {
		return presetEventID(p, req)
	}
	if p, ok := requestPresets[typ]; ok && p.eventID != nil {
		return p.eventID(req)
	}
	return ""
}

// slackChallenge returns the challenge of a Slack url_verification body, or
// "" for any other body.
func slackChallenge(body []byte) string {
	var m struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(body, &m) != nil || m.Type != "url_verification" {
		return ""
	}
	return m.Challenge
}

// dedupKey applies a (valid) dedup.key rule to a verified request.
func dedupKey(rule, eventID string, req Request) string {
	var key string
	switch {
	case rule == "" || rule == "provider":
		key = eventID
	case strings.HasPrefix(rule, "header:"):
		key = headerValue(req.Header, strings.TrimPrefix(rule, "header:"))
	case strings.HasPrefix(rule, "json:"):
		if tokens, ok := parsePointer(strings.TrimPrefix(rule, "json:")); ok {
			key = jsonText(req.Body, tokens)
		}
	}
	if len(key) > MaxDedupKeyLen || !utf8.ValidString(key) {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	return key
}

// MaxEventIDLen bounds the event id kept with a message.
const MaxEventIDLen = 256

// printableID is the event id as stored and shown to consumers: valid
// UTF-8 (an invalid byte becomes U+FFFD) and at most MaxEventIDLen bytes.
// Dedup uses the raw value (hashed when it is not UTF-8), so two ids that
// differ only in invalid bytes are still two events.
func printableID(id string) string {
	if !utf8.ValidString(id) {
		id = strings.ToValidUTF8(id, "\uFFFD")
	}
	if len(id) > MaxEventIDLen {
		cut := MaxEventIDLen
		for cut > 0 && !utf8.RuneStart(id[cut]) {
			cut--
		}
		id = id[:cut]
	}
	return id
}

// parsePointer splits an RFC 6901 JSON pointer into unescaped reference
// tokens. "" is the whole document; otherwise it must start with "/", and
// "~" may only be followed by "0" or "1".
func parsePointer(p string) ([]string, bool) {
	if p == "" {
		return nil, true
	}
	if p[0] != '/' {
		return nil, false
	}
	parts := strings.Split(p[1:], "/")
	for i, part := range parts {
		for j := 0; j < len(part); j++ {
			if part[j] == '~' && (j+1 == len(part) || (part[j+1] != '0' && part[j+1] != '1')) {
				return nil, false
			}
		}
		// ~1 first, then ~0, so "~01" becomes "~1" and not "/".
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
	}
	return parts, true
}

// jsonText resolves reference tokens against a JSON body and returns the
// value as text: a string as-is, null as "", anything else as its compact
// JSON. A body that is not JSON, or a path that does not exist, gives "".
func jsonText(body []byte, tokens []string) string {
	raw := json.RawMessage(body)
	for _, tok := range tokens {
		next, ok := jsonChild(raw, tok)
		if !ok {
			return ""
		}
		raw = next
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return s
	case 'n':
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return ""
	}
	return buf.String()
}

// jsonChild steps one reference token into an object or array.
func jsonChild(raw json.RawMessage, tok string) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return nil, false
		}
		v, ok := obj[tok]
		return v, ok
	case '[':
		// RFC 6901: array indexes are "0" or digits without a leading zero.
		if tok == "" || (tok[0] == '0' && len(tok) > 1) {
			return nil, false
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] < '0' || tok[i] > '9' {
				return nil, false
			}
		}
		idx, err := strconv.Atoi(tok)
		if err != nil {
			return nil, false
		}
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) != nil || idx >= len(arr) {
			return nil, false
		}
		return arr[idx], true
	}
	return nil, false
}
