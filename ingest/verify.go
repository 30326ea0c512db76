package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"net/http"
	"net/url"
	"time"
)

// Header and query names read by the verifiers (docs/API.md §4.2).
const (
	HeaderToken           = "X-Webhook-Token" // #nosec G101 -- a header name, not a credential
	QueryToken            = "token"
	HeaderAuthorization   = "Authorization"
	HeaderGitHubSignature = "X-Hub-Signature-256"
	HeaderGitHubDelivery  = "X-GitHub-Delivery"
	HeaderStripeSignature = "Stripe-Signature"
	HeaderShopifyHMAC     = "X-Shopify-Hmac-Sha256"
	HeaderShopifyEventID  = "X-Shopify-Event-Id"
	HeaderShopifyWebhook  = "X-Shopify-Webhook-Id"
	HeaderSlackSignature  = "X-Slack-Signature"
	HeaderSlackTimestamp  = "X-Slack-Request-Timestamp"
	HeaderWebhookID       = "webhook-id"
	HeaderWebhookTS       = "webhook-timestamp"
	HeaderWebhookSig      = "webhook-signature"
	HeaderSvixID          = "svix-id"
	HeaderSvixTS          = "svix-timestamp"
	HeaderSvixSig         = "svix-signature"
)

// Request is what Verify looks at: the request method and full URL (for
// the presets whose signature covers them, and the handshakes), the
// headers, the query (for ?token= and handshake parameters) and the exact
// raw body bytes.
type Request struct {
	Method string // "" is POST
	URL    string // as the provider addressed it: scheme://host[:port]/path[?query]
	Header http.Header
	Query  url.Values
	Body   []byte
}

// Result is what a verified request yields.
type Result struct {
	EventID   string // provider event id (docs/API.md §4.2 table column), "" if none
	DedupKey  string // from Dedup.Key applied to the request; "" means no dedup
	Challenge string // slack url_verification: non-empty => answer 200 text/plain with it, do not enqueue
	// Reply, when non-nil, is a provider's handshake (or Discord's PING):
	// answer it as given and enqueue nothing.
	Reply *Reply
}

// Reply is the answer to a handshake.
type Reply struct {
	Status      int         // HTTP status, 200 unless set
	ContentType string      // "" when there is no body
	Body        []byte      // the answer body
	Header      http.Header // extra response headers (Asana's X-Hook-Secret)
	// CaptureSecret, when non-empty, is a secret the provider handed over
	// in the handshake (Asana): the caller must store it as the source's
	// secret (a replicated write) before answering.
	CaptureSecret string
}

// checked is what a type's verifier established about a request it
// accepted.
type checked struct {
	id    string // event id the verifier already knows ("" to extract it)
	ts    int64  // signed timestamp, Unix seconds
	timed bool   // ts is to be held against the replay window
	reply *Reply // a handshake to answer instead of enqueueing
}

// Verify decides whether req came from the source's provider. It checks the
// signature first, on the raw body, with constant-time comparisons against
// every secret (any one may match); then, for signed timestamps, the replay
// window (too old and too far in the future are both refused); then extracts
// the event id, the dedup key and the handshakes.
//
// A refused request gives a *VerifyError wrapping ErrSignatureInvalid or
// ErrTimestampOutOfWindow. cfg should have been Normalized; zero durations
// and hmac settings take their defaults, and a config that names an unknown
// type or hmac setting gives a *ConfigError. Verify never modifies cfg.
func Verify(cfg *SourceConfig, req Request, now time.Time) (Result, error) {
	if cfg == nil {
		return Result{}, cfgErr("source", "missing")
	}
	v := &cfg.Verify
	if req.Method == "" {
		req.Method = http.MethodPost
	}
	c, err := verifyType(v, req)
	if err != nil {
		return Result{}, err
	}
	if c.timed {
		if err := checkWindow(c.ts, now, v.Tolerance); err != nil {
			return Result{}, err
		}
	}
	if c.reply != nil {
		return Result{Reply: c.reply}, nil
	}
	id := c.id
	if id == "" {
		id = eventID(v.Type, req)
	}
	res := Result{EventID: printableID(id)}
	if v.Type == TypeSlack {
		res.Challenge = slackChallenge(req.Body)
	}
	if rule := cfg.Dedup.Key; rule != "none" {
		res.DedupKey = dedupKey(rule, id, req)
	}
	return res, nil
}

// verifyType runs the verifier of v.Type.
func verifyType(v *VerifyConfig, req Request) (checked, error) {
	var c checked
	var err error
	switch v.Type {
	case TypeNone:
	case TypeToken:
		err = verifyToken(v.Secrets, req)
	case TypeBasic:
		err = verifyBasic(v.Secrets, req)
	case TypeHMAC:
		err = verifyHMAC(v, req)
	case TypeGitHub:
		err = verifyGitHub(v.Secrets, req)
	case TypeStripe:
		c.ts, err = verifyStripe(v.Secrets, req)
		c.timed = true
	case TypeShopify:
		err = verifyShopify(v.Secrets, req)
	case TypeSlack:
		c.ts, err = verifySlack(v.Secrets, req)
		c.timed = true
	case TypeStandard, TypeSvix, TypeResend, TypeClerk:
		// Standard Webhooks under the names of the providers that send it
		// with Svix's svix-* headers: Svix
		// (https://docs.svix.com/receiving/verifying-payloads/how-manual),
		// Resend (https://resend.com/docs/dashboard/webhooks/verify-webhooks-requests)
		// and Clerk (https://clerk.com/docs/webhooks/sync-data).
		c.id, c.ts, err = verifyStandard(v.Secrets, req)
		c.timed = true
	default:
		if p, ok := bodyPresets[v.Type]; ok {
			return c, verifyBodyPreset(p, v.Secrets, req)
		}
		f, ok := requestPresets[v.Type]
		if !ok {
			return c, cfgErr("verify.type", "unknown type")
		}
		return f.verify(v.Secrets, req)
	}
	return c, err
}

// checkWindow refuses a signed timestamp more than tol (default 300s) before
// or after now. Exactly tol away is still inside.
func checkWindow(ts int64, now time.Time, tol time.Duration) error {
	if tol <= 0 {
		tol = DefaultTolerance
	}
	if ts > maxUnix {
		return &VerifyError{Err: ErrTimestampOutOfWindow, Reason: ReasonFuture}
	}
	t := time.Unix(ts, 0)
	if now.Sub(t) > tol {
		return &VerifyError{Err: ErrTimestampOutOfWindow, Reason: ReasonStale}
	}
	if t.Sub(now) > tol {
		return &VerifyError{Err: ErrTimestampOutOfWindow, Reason: ReasonFuture}
	}
	return nil
}

// macOf computes HMAC(newHash, key) over the concatenation of parts.
func macOf(newHash func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// anyMatch reports whether any candidate signature equals any expected MAC.
// Every pair is compared, in constant time, whatever matches.
func anyMatch(expected, candidates [][]byte) bool {
	match := 0
	for _, e := range expected {
		for _, c := range candidates {
			if hmac.Equal(e, c) {
				match = 1
			}
		}
	}
	return match == 1
}

// equalSecret compares a presented credential with every secret in constant
// time; hashing first hides the lengths as well as the contents.
func equalSecret(presented string, secrets []string) bool {
	p := sha256.Sum256([]byte(presented))
	match := 0
	for _, s := range secrets {
		if s == "" {
			continue
		}
		h := sha256.Sum256([]byte(s))
		match |= subtle.ConstantTimeCompare(p[:], h[:])
	}
	return match == 1
}

// keyedMACs computes one MAC per non-empty secret (used as raw bytes).
func keyedMACs(newHash func() hash.Hash, secrets []string, parts ...[]byte) [][]byte {
	out := make([][]byte, 0, len(secrets))
	for _, s := range secrets {
		if s != "" {
			out = append(out, macOf(newHash, []byte(s), parts...))
		}
	}
	return out
}

func verifyToken(secrets []string, req Request) error {
	tok, where := headerValue(req.Header, HeaderToken), HeaderToken
	if tok == "" {
		tok, where = req.Query.Get(QueryToken), "?"+QueryToken
	}
	if tok == "" {
		return sigErr(ReasonMissingHeader, HeaderToken)
	}
	if !equalSecret(tok, secrets) {
		return sigErr(ReasonMismatch, where)
	}
	return nil
}

func verifyBasic(secrets []string, req Request) error {
	h := headerValue(req.Header, HeaderAuthorization)
	if h == "" {
		return sigErr(ReasonMissingHeader, HeaderAuthorization)
	}
	cred, ok := parseBasicAuth(h)
	if !ok {
		return sigErr(ReasonMalformedHeader, HeaderAuthorization)
	}
	if !equalSecret(cred, secrets) {
		return sigErr(ReasonMismatch, HeaderAuthorization)
	}
	return nil
}

func verifyHMAC(v *VerifyConfig, req Request) error {
	alg, enc := v.hmacScheme()
	newHash := hashFor(alg)
	if newHash == nil {
		return cfgErr("verify.algorithm", "unknown algorithm")
	}
	if enc != "hex" && enc != "base64" {
		return cfgErr("verify.encoding", "unknown encoding")
	}
	if !validHeaderName(v.Header) {
		return cfgErr("verify.header", "invalid header name")
	}
	h := headerValue(req.Header, v.Header)
	if h == "" {
		return sigErr(ReasonMissingHeader, v.Header)
	}
	sig, ok := decodeSignature(h, v.Prefix, enc)
	if !ok {
		return sigErr(ReasonMalformedHeader, v.Header)
	}
	if !anyMatch(keyedMACs(newHash, v.Secrets, req.Body), [][]byte{sig}) {
		return sigErr(ReasonMismatch, v.Header)
	}
	return nil
}

func verifyGitHub(secrets []string, req Request) error {
	h := headerValue(req.Header, HeaderGitHubSignature)
	if h == "" {
		return sigErr(ReasonMissingHeader, HeaderGitHubSignature)
	}
	sig, ok := parsePrefixedHex(h, "sha256=")
	if !ok {
		return sigErr(ReasonMalformedHeader, HeaderGitHubSignature)
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, req.Body), [][]byte{sig}) {
		return sigErr(ReasonMismatch, HeaderGitHubSignature)
	}
	return nil
}

func verifyStripe(secrets []string, req Request) (int64, error) {
	h := headerValue(req.Header, HeaderStripeSignature)
	if h == "" {
		return 0, sigErr(ReasonMissingHeader, HeaderStripeSignature)
	}
	sh, ok := parseStripeHeader(h)
	if !ok {
		return 0, sigErr(ReasonMalformedHeader, HeaderStripeSignature)
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, []byte(sh.t), []byte("."), req.Body), sh.sigs) {
		return 0, sigErr(ReasonMismatch, HeaderStripeSignature)
	}
	return sh.ts, nil
}

func verifyShopify(secrets []string, req Request) error {
	h := headerValue(req.Header, HeaderShopifyHMAC)
	if h == "" {
		return sigErr(ReasonMissingHeader, HeaderShopifyHMAC)
	}
	sig, ok := decodeStdBase64(h)
	if !ok {
		return sigErr(ReasonMalformedHeader, HeaderShopifyHMAC)
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, req.Body), [][]byte{sig}) {
		return sigErr(ReasonMismatch, HeaderShopifyHMAC)
	}
	return nil
}

func verifySlack(secrets []string, req Request) (int64, error) {
	h := headerValue(req.Header, HeaderSlackSignature)
	if h == "" {
		return 0, sigErr(ReasonMissingHeader, HeaderSlackSignature)
	}
	t := headerValue(req.Header, HeaderSlackTimestamp)
	if t == "" {
		return 0, sigErr(ReasonMissingHeader, HeaderSlackTimestamp)
	}
	sig, ok := parsePrefixedHex(h, "v0=")
	if !ok {
		return 0, sigErr(ReasonMalformedHeader, HeaderSlackSignature)
	}
	ts, ok := parseTimestamp(t)
	if !ok {
		return 0, sigErr(ReasonMalformedHeader, HeaderSlackTimestamp)
	}
	if !anyMatch(keyedMACs(sha256.New, secrets, []byte("v0:"+t+":"), req.Body), [][]byte{sig}) {
		return 0, sigErr(ReasonMismatch, HeaderSlackSignature)
	}
	return ts, nil
}

// verifyStandard returns the message id it verified (the event id) and the
// signed timestamp. webhook-* names are read first, then svix-* names.
func verifyStandard(secrets []string, req Request) (string, int64, error) {
	id := headerValue(req.Header, HeaderWebhookID)
	if id == "" {
		id = headerValue(req.Header, HeaderSvixID)
	}
	t, tsName := headerValue(req.Header, HeaderWebhookTS), HeaderWebhookTS
	if t == "" {
		t, tsName = headerValue(req.Header, HeaderSvixTS), HeaderSvixTS
	}
	s, sigName := headerValue(req.Header, HeaderWebhookSig), HeaderWebhookSig
	if s == "" {
		s, sigName = headerValue(req.Header, HeaderSvixSig), HeaderSvixSig
	}
	switch {
	case s == "":
		return "", 0, sigErr(ReasonMissingHeader, HeaderWebhookSig)
	case id == "":
		return "", 0, sigErr(ReasonMissingHeader, HeaderWebhookID)
	case t == "":
		return "", 0, sigErr(ReasonMissingHeader, HeaderWebhookTS)
	}
	ts, ok := parseTimestamp(t)
	if !ok {
		return "", 0, sigErr(ReasonMalformedHeader, tsName)
	}
	sigs, ok := parseStandardSignatures(s)
	if !ok {
		return "", 0, sigErr(ReasonMalformedHeader, sigName)
	}
	expected := make([][]byte, 0, len(secrets))
	for _, secret := range secrets {
		if key, ok := standardKey(secret); ok {
			expected = append(expected, macOf(sha256.New, key, []byte(id), []byte("."), []byte(t), []byte("."), req.Body))
		}
	}
	if !anyMatch(expected, sigs) {
		return "", 0, sigErr(ReasonMismatch, sigName)
	}
	return id, ts, nil
}
