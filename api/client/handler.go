package client

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// RetryError, returned (or wrapped) by a Handler, nacks the delivery with
// redelivery after After instead of the queue's backoff. Make one with
// Retry, or build it to carry the cause.
type RetryError struct {
	// After is the delay until redelivery (0 or less: at once).
	After time.Duration
	// Err is the cause, recorded as the nack's reason.
	Err error
}

// Retry returns an error that makes Consume nack the delivery with
// redelivery after the given delay (at once when after ≤ 0; a delay over
// the 12h hookq accepts is cut to 12h). Wrap it to
// add context: fmt.Errorf("db busy: %w", client.Retry(time.Minute)).
func Retry(after time.Duration) error { return &RetryError{After: after} }

// Error implements error.
func (e *RetryError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("retry after %v: %v", e.After, e.Err)
	}
	return fmt.Sprintf("retry after %v", e.After)
}

// Unwrap returns the cause.
func (e *RetryError) Unwrap() error { return e.Err }

// RejectError, returned (or wrapped) by a Handler, dead-letters the
// delivery's message with Reason. Make one with Reject.
type RejectError struct {
	// Reason is recorded in the dead letter (default "rejected").
	Reason string
}

// Reject returns an error that makes Consume dead-letter the delivery's
// message now, with reason; use it for messages no retry can fix
// (malformed payloads, unknown event types).
func Reject(reason string) error { return &RejectError{Reason: reason} }

// Error implements error.
func (e *RejectError) Error() string {
	if e.Reason == "" {
		return "rejected"
	}
	return "rejected: " + e.Reason
}

// maxReason is the longest reason hookq records.
const maxReason = 1024

// maxNackDelay is the longest nack delay hookq accepts.
const maxNackDelay = 12 * time.Hour

// settleOf is the settlement a handler's result stands for.
func settleOf(deliveryID string, err error) Settlement {
	if err == nil {
		return Settlement{Acks: []string{deliveryID}}
	}
	var rej *RejectError
	if errors.As(err, &rej) {
		return Settlement{Rejects: []RejectItem{{DeliveryID: deliveryID, Reason: clip(rej.Reason)}}}
	}
	n := NackItem{DeliveryID: deliveryID, Reason: clip(err.Error())}
	var re *RetryError
	if errors.As(err, &re) {
		n.Delay = min(re.After, maxNackDelay)
		if n.Delay <= 0 {
			n.Delay = Immediately
		}
	}
	return Settlement{Nacks: []NackItem{n}}
}

// clip makes s valid UTF-8 (a gRPC string must be; an invalid byte
// becomes U+FFFD) and cuts it to maxReason bytes on a rune boundary.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxReason {
		return s
	}
	s = s[:maxReason]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// merge appends b's items to a.
func (a *Settlement) merge(b Settlement) {
	a.Acks = append(a.Acks, b.Acks...)
	a.Nacks = append(a.Nacks, b.Nacks...)
	a.Rejects = append(a.Rejects, b.Rejects...)
	a.Extends = append(a.Extends, b.Extends...)
}
