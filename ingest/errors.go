package ingest

import (
	"errors"
	"strings"
)

// Sentinel errors. Verify wraps the first two in a *VerifyError; Normalize
// (and Verify or Sign given an unusable config) wrap ErrInvalidConfig in a
// *ConfigError; Sign wraps ErrCannotSign when the request cannot be signed.
var (
	// ErrSignatureInvalid: missing or malformed signature header, token or
	// basic credential, or a signature that matches none of the secrets.
	ErrSignatureInvalid = errors.New("ingest: signature invalid")
	// ErrTimestampOutOfWindow: a valid signature over a timestamp that is
	// older, or further in the future, than the source's tolerance.
	ErrTimestampOutOfWindow = errors.New("ingest: timestamp out of window")
	// ErrInvalidConfig: a source configuration that Normalize rejects.
	ErrInvalidConfig = errors.New("ingest: invalid source config")
	// ErrCannotSign: Sign was given inputs it cannot produce headers for
	// (an empty secret, or an empty event id for standard webhooks).
	ErrCannotSign = errors.New("ingest: cannot sign")
)

// Reasons carried by a *VerifyError, stable strings for metric labels.
const (
	ReasonMissingHeader   = "missing_header"   // signature, timestamp, id, token or credential absent
	ReasonMalformedHeader = "malformed_header" // present but unparseable, wrong scheme or prefix
	ReasonMismatch        = "mismatch"         // well formed, matches no secret
	ReasonStale           = "stale"            // signed timestamp older than the tolerance
	ReasonFuture          = "future"           // signed timestamp further ahead than the tolerance
)

// VerifyError is the error Verify returns when a request is refused. Err is
// ErrSignatureInvalid or ErrTimestampOutOfWindow; Reason is one of the
// Reason* constants; Header names the header concerned, if any. It never
// carries a secret, a signature or a body.
type VerifyError struct {
	Err    error
	Reason string
	Header string
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Header != "" {
		b.WriteString(" (")
		b.WriteString(e.Header)
		b.WriteString(")")
	}
	return b.String()
}

func (e *VerifyError) Unwrap() error { return e.Err }

// Reason returns the metrics reason of a verification failure anywhere in
// err's chain, or "" when err is not one.
func Reason(err error) string {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ""
}

func sigErr(reason, header string) error {
	return &VerifyError{Err: ErrSignatureInvalid, Reason: reason, Header: header}
}

// ConfigError names the configuration field (JSON path, e.g. "verify.type",
// "queues[1]") that Normalize rejected and why. The api package answers it
// with 400 bad_request. Msg never contains a secret.
type ConfigError struct {
	Field string
	Msg   string
}

func (e *ConfigError) Error() string {
	return ErrInvalidConfig.Error() + ": " + e.Field + ": " + e.Msg
}

func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

func cfgErr(field, msg string) error { return &ConfigError{Field: field, Msg: msg} }
