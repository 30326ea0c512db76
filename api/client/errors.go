package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/hookq/hookq/broker"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The API's error codes (docs/API.md §2.6), the same over gRPC and REST.
const (
	CodeBadRequest      = broker.CodeBadRequest
	CodeUnauthenticated = broker.CodeUnauthenticated
	CodeForbidden       = broker.CodeForbidden
	CodeNotFound        = broker.CodeNotFound
	CodeLeaseExpired    = broker.CodeLeaseExpired
	CodeConflict        = broker.CodeConflict
	CodePayloadTooLarge = broker.CodePayloadTooLarge
	CodeQueueFull       = broker.CodeQueueFull
	CodeUnavailable     = broker.CodeUnavailable
	CodeInternal        = broker.CodeInternal
)

// Error is an error answered by hookq, or a transport failure on the way
// to it (then Code is CodeUnavailable). It carries the API's code and
// both the HTTP status and the gRPC code that code stands for, whichever
// transport the call used, so callers can program against either.
//
// errors.Is(err, client.ErrLeaseExpired) (or any other sentinel of this
// package) matches on the code. An error answered by hookq also matches
// the broker sentinel its code stands for (broker.ErrLeaseExpired,
// broker.ErrQueueFull, …); a transport failure unwraps to the transport's
// error instead.
type Error struct {
	// Code is the API's error code: CodeLeaseExpired, CodeQueueFull, …
	Code string
	// Message is the server's human-readable text (it may change; program
	// against Code).
	Message string
	// HTTPStatus is the HTTP status of Code (409 for lease_expired, …).
	HTTPStatus int
	// GRPCCode is the gRPC status code of Code (FailedPrecondition for
	// lease_expired, …).
	GRPCCode codes.Code
	// Op names the call that failed ("publish", "lease", "ack", …).
	Op string

	cause error // the broker sentinel or transport error behind it
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code
	}
	if e.Op == "" {
		return "hookq: " + msg
	}
	return fmt.Sprintf("hookq %s: %s (%s)", e.Op, msg, e.Code)
}

// Unwrap returns the broker sentinel (or transport error) behind e.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same Code and no
// Message, as the sentinels of this package are.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Op == "" && t.Code == e.Code
}

// Temporary reports whether retrying the same call later may succeed: no
// leader or quorum, a node shutting down, a transport failure, or a full
// queue.
func (e *Error) Temporary() bool {
	return e.Code == CodeUnavailable || e.Code == CodeQueueFull
}

// Sentinels to compare errors with errors.Is; they match any *Error with
// the same code.
var (
	ErrBadRequest      = sentinel(CodeBadRequest)
	ErrUnauthenticated = sentinel(CodeUnauthenticated)
	ErrForbidden       = sentinel(CodeForbidden)
	ErrNotFound        = sentinel(CodeNotFound)
	ErrLeaseExpired    = sentinel(CodeLeaseExpired)
	ErrConflict        = sentinel(CodeConflict)
	ErrPayloadTooLarge = sentinel(CodePayloadTooLarge)
	ErrQueueFull       = sentinel(CodeQueueFull)
	ErrUnavailable     = sentinel(CodeUnavailable)
	ErrInternal        = sentinel(CodeInternal)
)

func sentinel(code string) *Error {
	e := &Error{Code: code}
	e.fill()
	return e
}

// codeSentinels names the broker sentinel each public code stands for, so
// that broker.Classify (the one error table) gives the HTTP status and
// gRPC code of a code received over either transport.
var codeSentinels = map[string]error{
	CodeBadRequest:      broker.ErrInvalidRequest,
	CodeUnauthenticated: broker.ErrUnauthenticated,
	CodeForbidden:       broker.ErrForbidden,
	CodeNotFound:        broker.ErrNotFound,
	CodeLeaseExpired:    broker.ErrLeaseExpired,
	CodeConflict:        broker.ErrConflict,
	CodePayloadTooLarge: broker.ErrTooLarge,
	CodeQueueFull:       broker.ErrQueueFull,
	CodeUnavailable:     broker.ErrUnavailable,
}

// fill sets HTTPStatus and GRPCCode from Code through broker's error
// table, and the cause when none is set.
func (e *Error) fill() {
	s, ok := codeSentinels[e.Code]
	if !ok {
		e.HTTPStatus, e.GRPCCode = http.StatusInternalServerError, codes.Internal
		return
	}
	c := broker.Classify(s)
	e.HTTPStatus, e.GRPCCode = c.HTTPStatus, c.GRPCCode
	if e.cause == nil {
		e.cause = s
	}
}

// CodeOf returns the API error code of err ("" for nil, CodeInternal for
// an error that did not come from this package).
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// IsLeaseExpired reports whether err says the delivery's lease had already
// ended (settled, expired, purged): the message will be (or was) delivered
// again, so there is nothing left to do for this delivery.
func IsLeaseExpired(err error) bool { return errors.Is(err, ErrLeaseExpired) }

// IsNotFound reports whether err says the queue or delivery does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsQueueFull reports whether err says the queue is at its maxDepth.
func IsQueueFull(err error) bool { return errors.Is(err, ErrQueueFull) }

// IsUnavailable reports whether err says no node could do the call now (no
// leader, no quorum, shutting down, unreachable); retry later.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// IsUnauthenticated reports whether the token was missing or unknown.
func IsUnauthenticated(err error) bool { return errors.Is(err, ErrUnauthenticated) }

// IsForbidden reports whether the token lacks the call's scope.
func IsForbidden(err error) bool { return errors.Is(err, ErrForbidden) }

// IsBadRequest reports whether hookq refused the call's arguments.
func IsBadRequest(err error) bool { return errors.Is(err, ErrBadRequest) }

// guessOrder is the order in which codes are tried when only a status is
// known: where two codes share a status (409, 503, ResourceExhausted) the
// first one listed is the likelier answer of a consumer call.
var guessOrder = []string{
	CodeBadRequest, CodeUnauthenticated, CodeForbidden, CodeNotFound,
	CodeLeaseExpired, CodeConflict, CodeQueueFull, CodePayloadTooLarge, CodeUnavailable,
}

// codeOfGRPC is the public code a gRPC status code stands for when a status
// carries no hookq ErrorInfo detail (a transport failure, a status made by
// gRPC itself) or a detail naming no public error. ResourceExhausted is
// queue_full unless the message says otherwise (see fromGRPC).
func codeOfGRPC(c codes.Code) string {
	for _, code := range guessOrder {
		if broker.Classify(codeSentinels[code]).GRPCCode == c {
			return code
		}
	}
	switch c {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted:
		return CodeUnavailable
	case codes.AlreadyExists:
		return CodeConflict
	}
	return CodeInternal
}

// fromGRPC turns an error of a gRPC call into an *Error (nil for nil).
// The public API's statuses carry the public code in an ErrorInfo detail
// (domain broker.PublicErrorDomain); a node-to-node status (domain of
// broker.FromGRPC) is classified by the one error table; any other status
// (a transport failure, one made by gRPC itself) by its gRPC code.
func fromGRPC(op string, err error) error {
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	e := &Error{Op: op, Message: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == broker.PublicErrorDomain {
			e.Code = info.GetReason()
		}
	}
	if e.Code == "" {
		if werr, ok := broker.FromGRPC(err); ok {
			if c := broker.Classify(werr); c.GRPCCode == st.Code() {
				e.Code, e.cause = c.Code, werr
			}
		}
	}
	if e.Code == "" {
		e.Code = codeOfGRPC(st.Code())
		if st.Code() == codes.ResourceExhausted && !strings.Contains(strings.ToLower(e.Message), "queue") {
			e.Code = CodePayloadTooLarge
		}
		if st.Code() == codes.Unavailable || st.Code() == codes.Canceled || st.Code() == codes.DeadlineExceeded {
			e.cause = err
		}
	}
	e.fill()
	return e
}

// fromHTTP turns a non-2xx response into an *Error, reading the JSON
// error body of docs/API.md §2.6 (at most 64 KiB of it).
func fromHTTP(op string, resp *http.Response) error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Op: op}
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	} else {
		e.Code = codeOfHTTP(resp.StatusCode)
		e.Message = resp.Status
	}
	e.fill()
	return e
}

// codeOfHTTP is the code of a status that came without a JSON error body
// (a proxy's answer, say).
func codeOfHTTP(statusCode int) string {
	switch statusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return CodeUnavailable
	}
	for _, code := range guessOrder {
		if broker.Classify(codeSentinels[code]).HTTPStatus == statusCode {
			return code
		}
	}
	if statusCode >= 400 && statusCode < 500 {
		return CodeBadRequest
	}
	return CodeInternal
}

// transportError wraps a failure to reach the server at all.
func transportError(op string, err error) error {
	e := &Error{Op: op, Code: CodeUnavailable, Message: err.Error(), cause: err}
	e.fill()
	e.cause = err
	return e
}
