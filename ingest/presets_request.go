package ingest

import (
	"fmt"
	"net/http"
	"time"
)

// requestPreset is a provider preset with its own verifier: signatures
// over more than the body, timestamps, asymmetric keys, handshakes.
type requestPreset struct {
	verify  func(secrets []string, req Request) (checked, error)
	sign    func(secret string, in signInput) (Signed, error)
	eventID func(req Request) string // nil: the provider has none
	// secretProblem, when set, checks one configured secret (the generic
	// checks of secretProblem have passed); it returns "" or what is wrong.
	secretProblem func(s string) string
	// noSecrets: a source may be created without secrets (Asana: the
	// secret arrives in the handshake).
	noSecrets bool
	// get: the provider sends GET requests (handshakes), so GET
	// /hooks/{source} is routed to Verify for this type.
	get bool
}

// signInput is what a preset's signer gets besides the secret.
type signInput struct {
	method  string
	url     string
	body    []byte
	now     time.Time
	eventID string
}

// requestPresets: the presets with their own verifiers, by verify.type.
// Never modified.
var requestPresets = map[string]requestPreset{
	TypePaddle:   {verify: verifyPaddle, sign: headersOnly(signPaddle), eventID: jsonID("event_id")},
	TypeCalendly: {verify: verifyTV(HeaderCalendlySignature), sign: headersOnly(signTV(HeaderCalendlySignature))},
	TypeMux:      {verify: verifyTV(HeaderMuxSignature), sign: headersOnly(signTV(HeaderMuxSignature)), eventID: jsonID("id")},
	TypeZendesk:  {verify: verifyZendesk, sign: headersOnly(signZendesk), eventID: headerID(HeaderZendeskInvocation)},
	TypeLinear:   {verify: verifyLinear, sign: signLinear, eventID: headerID(HeaderLinearDelivery)},
	TypeHubSpot:  {verify: verifyHubSpot, sign: headersOnly(signHubSpot)},
	TypeSquare:   {verify: verifySquare, sign: headersOnly(signSquare), eventID: jsonID("event_id")},
	TypeTwilio:   {verify: verifyTwilio, sign: signTwilio, eventID: headerID(HeaderTwilioIdempotency)},
	TypeMailgun:  {verify: verifyMailgun, sign: signMailgun, eventID: jsonID("event-data", "id")},
	TypeDiscord:  {verify: verifyDiscord, sign: headersOnly(signDiscord), eventID: jsonID("id"), secretProblem: discordKeyProblem},
	TypeSendGrid: {verify: verifySendGrid, sign: headersOnly(signSendGrid), secretProblem: sendGridKeyProblem},
	TypeMeta:     {verify: verifyMeta, sign: headersOnly(signMeta), secretProblem: metaSecretProblem, get: true},
	TypeZoom:     {verify: verifyZoom, sign: headersOnly(signZoom)},
	TypeTwitch:   {verify: verifyTwitch, sign: headersOnly(signTwitch)},
	TypeDropbox:  {verify: verifyDropbox, sign: headersOnly(signDropbox), get: true},
	TypeOkta:     {verify: verifyOkta, sign: headersOnly(signOkta), eventID: jsonID("eventId"), get: true},
	TypeMSGraph:  {verify: verifyMSGraph, sign: signMSGraph},
	TypeAsana:    {verify: verifyAsana, sign: headersOnly(signAsana), noSecrets: true},
	TypeNetlify:  {verify: verifyNetlify, sign: headersOnly(signNetlify)},
}

// headersOnly adapts a signer that only sets headers.
func headersOnly(f func(string, signInput) (http.Header, error)) func(string, signInput) (Signed, error) {
	return func(secret string, in signInput) (Signed, error) {
		h, err := f(secret, in)
		return Signed{Header: h}, err
	}
}

// AnswersGET reports whether sources of verify.type t receive GET requests
// from their provider (handshakes), which api routes to Verify; for every
// other type GET /hooks/{source} is 405.
func AnswersGET(t string) bool {
	p, ok := requestPresets[t]
	return ok && p.get
}

// headerID returns an eventID function reading header name.
func headerID(name string) func(Request) string {
	return func(req Request) string { return headerValue(req.Header, name) }
}

// jsonID returns an eventID function reading the body at path.
func jsonID(path ...string) func(Request) string {
	return func(req Request) string { return jsonText(req.Body, path) }
}

// errSignWith is an ErrCannotSign saying what the preset needs.
func errSignWith(msg string) error { return fmt.Errorf("%w: %s", ErrCannotSign, msg) }
