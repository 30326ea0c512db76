package ingest

// The verify.* fields each type reads, for forms and clients that build a
// source's config (the console's source form, GET /v1/verify-types).

// Verify fields, as named in a source's JSON (docs/API.md §4.1).
const (
	FieldSecrets   = "secrets"
	FieldHeader    = "header"
	FieldAlgorithm = "algorithm"
	FieldEncoding  = "encoding"
	FieldPrefix    = "prefix"
	FieldTolerance = "tolerance"
)

// timedTypes: the types whose signature carries a timestamp held against
// verify.tolerance. TestUsesToleranceMatchesVerify checks this set against
// what Verify does.
var timedTypes = map[string]bool{
	TypeStripe: true, TypeSlack: true, TypeStandard: true, TypeSvix: true, TypeResend: true, TypeClerk: true,
	TypePaddle: true, TypeCalendly: true, TypeMux: true, TypeZendesk: true, TypeLinear: true, TypeHubSpot: true,
	TypeMailgun: true, TypeDiscord: true, TypeSendGrid: true, TypeZoom: true, TypeTwitch: true,
}

// UsesTolerance reports whether sources of verify.type t check a signed
// timestamp against verify.tolerance.
func UsesTolerance(t string) bool { return timedTypes[t] }

// RequiresSecrets reports whether a source of verify.type t must list at
// least one secret (every type but none and asana, whose secret arrives
// in its handshake).
func RequiresSecrets(t string) bool {
	return knownType(t) && t != TypeNone && !requestPresets[t].noSecrets
}

// VerifyFields lists the verify.* fields (besides type) that sources of
// verify.type t use, in the order a form shows them; nil for an unknown
// type and for none.
func VerifyFields(t string) []string {
	switch {
	case !knownType(t) || t == TypeNone:
		return nil
	case t == TypeHMAC:
		return []string{FieldSecrets, FieldHeader, FieldAlgorithm, FieldEncoding, FieldPrefix}
	case UsesTolerance(t):
		return []string{FieldSecrets, FieldTolerance}
	}
	return []string{FieldSecrets}
}

// PublicKeyVerified reports whether sources of verify.type t hold the
// provider's public key (discord, sendgrid): their secrets verify but
// cannot sign, so only the provider can send them a webhook.
func PublicKeyVerified(t string) bool { return t == TypeDiscord || t == TypeSendGrid }

// SampleBody is a body of the shape sources of verify.type t accept,
// carrying event: Microsoft Graph only posts change notifications in a
// "value" list (whose items SignRequest gives the clientState), so for
// msgraph event is the one item of that list; any other type takes event
// as it is.
func SampleBody(t string, event map[string]any) map[string]any {
	if t == TypeMSGraph {
		return map[string]any{"value": []any{event}}
	}
	return event
}
