package broker

import (
	"errors"

	"github.com/hookq/hookq/ingest"
	"github.com/hookq/hookq/internal/apicode"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors of the broker. Domain errors are storage's own sentinels so
// errors.Is works across the layers; callers need import only broker.
var (
	ErrNotLeader   = errors.New("broker: not leader")
	ErrUnavailable = errors.New("broker: unavailable")
	ErrClosed      = errors.New("broker: closed")
	ErrBadRequest  = errors.New("broker: bad request")

	ErrQueueNotFound    = storage.ErrQueueNotFound
	ErrSourceNotFound   = storage.ErrSourceNotFound
	ErrTokenNotFound    = storage.ErrTokenNotFound
	ErrTokenExists      = storage.ErrTokenExists
	ErrNodeNotFound     = storage.ErrNodeNotFound
	ErrMessageNotFound  = storage.ErrMessageNotFound
	ErrDeliveryNotFound = storage.ErrDeliveryNotFound
	ErrLeaseExpired     = storage.ErrLeaseExpired
	ErrQueueFull        = storage.ErrQueueFull
	ErrNotDeadLetter    = storage.ErrNotDeadLetter
	ErrBadCursor        = storage.ErrBadCursor
	ErrDeadLetterCycle  = storage.ErrDeadLetterCycle
	ErrSourceHasSecret  = storage.ErrSourceHasSecret
	ErrEntryFull        = storage.ErrEntryFull
	// ErrSelectionTooLarge: a replay or redrive over its bounds; nothing
	// changed.
	ErrSelectionTooLarge = storage.ErrSelectionTooLarge
	// ErrInvalidOp, ErrUnknownOp and ErrUndecodable are what the state
	// machine answers for an op it refused; validateOp keeps them
	// unreachable for ops this node builds.
	ErrInvalidOp   = storage.ErrInvalidOp
	ErrUnknownOp   = raftfsm.ErrUnknownOp
	ErrUndecodable = raftfsm.ErrUndecodable
)

// Errors of the request surface: a front end (the HTTP API, the public
// gRPC API) refuses a request with them before it reaches the broker.
// Their text is part of the responses clients see.
var (
	ErrUnauthenticated  = errors.New("api: missing or invalid token")
	ErrForbidden        = errors.New("api: token lacks the scope")
	ErrInvalidRequest   = errors.New("api: bad request")
	ErrTooLarge         = errors.New("api: payload too large")
	ErrNotFound         = errors.New("api: not found")
	ErrConflict         = errors.New("api: conflict")
	ErrNotReady         = errors.New("api: unavailable")
	ErrMethodNotAllowed = errors.New("api: method not allowed")
)

// Public error codes (docs/API.md §2.6), the same over HTTP and gRPC;
// their statuses are internal/apicode's.
const (
	CodeBadRequest           = apicode.BadRequest
	CodeUnauthenticated      = apicode.Unauthenticated
	CodeSignatureInvalid     = apicode.SignatureInvalid
	CodeTimestampOutOfWindow = apicode.TimestampOutOfWindow
	CodeForbidden            = apicode.Forbidden
	CodeNotFound             = apicode.NotFound
	CodeLeaseExpired         = apicode.LeaseExpired
	CodeConflict             = apicode.Conflict
	CodePayloadTooLarge      = apicode.PayloadTooLarge
	CodeQueueFull            = apicode.QueueFull
	CodeUnavailable          = apicode.Unavailable
	CodeInternal             = apicode.Internal
	CodeMethodNotAllowed     = apicode.MethodNotAllowed
)

// errorRow is one error as every surface names it: wire is its name on
// the node-to-node wire ("" when it never crosses it), code its public
// code (whose HTTP status and gRPC code are internal/apicode's).
type errorRow struct {
	err  error
	wire string
	code string
}

// errorTable is the one mapping from errors to their wire name and public
// code. The first row errors.Is matches wins; an error in no row is
// internal (500, codes.Internal) and crosses the wire as unavailable.
var errorTable = []errorRow{
	{ErrInvalidRequest, "", CodeBadRequest},
	{ingest.ErrInvalidConfig, "", CodeBadRequest},
	{ErrBadRequest, "bad_request", CodeBadRequest},
	{ErrNotDeadLetter, "not_dead_letter", CodeBadRequest},
	{ErrBadCursor, "", CodeBadRequest},
	{ErrDeadLetterCycle, "dead_letter_cycle", CodeBadRequest},
	{ErrSelectionTooLarge, "selection_too_large", CodeBadRequest},
	// Ops the state machine refused: bad_request on the wire (after
	// ErrBadRequest, so the wire name comes back as ErrBadRequest), never
	// unavailable, which clients retry.
	{ErrInvalidOp, "bad_request", CodeBadRequest},
	{ErrUnknownOp, "bad_request", CodeBadRequest},
	{ErrUndecodable, "bad_request", CodeBadRequest},
	{ErrUnauthenticated, "", CodeUnauthenticated},
	{ingest.ErrSignatureInvalid, "", CodeSignatureInvalid},
	{ingest.ErrTimestampOutOfWindow, "", CodeTimestampOutOfWindow},
	{ErrForbidden, "", CodeForbidden},
	{ErrNotFound, "", CodeNotFound},
	{ErrQueueNotFound, "queue_not_found", CodeNotFound},
	{ErrSourceNotFound, "source_not_found", CodeNotFound},
	{ErrTokenNotFound, "token_not_found", CodeNotFound},
	{ErrNodeNotFound, "node_not_found", CodeNotFound},
	{ErrMessageNotFound, "message_not_found", CodeNotFound},
	{ErrDeliveryNotFound, "delivery_not_found", CodeNotFound},
	{ErrLeaseExpired, "lease_expired", CodeLeaseExpired},
	{ErrMethodNotAllowed, "", CodeMethodNotAllowed},
	{ErrTokenExists, "token_exists", CodeConflict},
	{ErrConflict, "", CodeConflict},
	{ErrSourceHasSecret, "source_has_secret", CodeConflict},
	{ErrTooLarge, "", CodePayloadTooLarge},
	{ErrQueueFull, "queue_full", CodeQueueFull},
	{ErrNotReady, "", CodeUnavailable},
	{ErrNotLeader, "not_leader", CodeUnavailable},
	{ErrUnavailable, "unavailable", CodeUnavailable},
	{ErrClosed, "closed", CodeUnavailable},
	{ErrEntryFull, "entry_full", CodeInternal},
}

// ErrorClass is how the public surfaces answer an error.
type ErrorClass struct {
	Code       string     // public code, "internal" for unknown errors
	HTTPStatus int        // HTTP status
	GRPCCode   codes.Code // gRPC status code
}

// Classify looks err up in the error table.
func Classify(err error) ErrorClass {
	code := CodeInternal
	if r, ok := rowOf(err); ok {
		code = r.code
	}
	st, _ := apicode.Of(code)
	return ErrorClass{Code: code, HTTPStatus: st.HTTP, GRPCCode: st.GRPC}
}

func rowOf(err error) (errorRow, bool) {
	for _, r := range errorTable {
		if errors.Is(err, r.err) {
			return r, true
		}
	}
	return errorRow{}, false
}

// errorCode is err's name on the node-to-node wire ("" for nil).
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	if r, ok := rowOf(err); ok && r.wire != "" {
		return r.wire
	}
	return "unavailable"
}

// codeError is the sentinel a wire name stands for (nil for "").
func codeError(code string) error {
	if code == "" {
		return nil
	}
	for _, r := range errorTable {
		if r.wire != "" && r.wire == code {
			return r.err
		}
	}
	return ErrUnavailable
}

// errorDomain marks the ErrorInfo detail of hookq's gRPC statuses.
const errorDomain = "hookq"

// GRPCStatus is err as a gRPC status: the table's gRPC code, err's text as
// the message, and its wire name in an ErrorInfo detail so the other side
// gets the same sentinel back (FromGRPC) without parsing the message.
func GRPCStatus(err error) *status.Status {
	st := status.New(Classify(err).GRPCCode, PublicMessage(err))
	if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: errorCode(err), Domain: errorDomain}); derr == nil {
		return d
	}
	return st
}

// FromGRPC turns a status made by GRPCStatus back into an error that
// matches the original sentinel and carries the original text. ok is
// false when err carries no hookq error (a transport failure, say).
func FromGRPC(err error) (error, bool) {
	st, isStatus := status.FromError(err)
	if !isStatus {
		return nil, false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == errorDomain {
			return &wireError{sentinel: codeError(info.Reason), msg: st.Message()}, true
		}
	}
	return nil, false
}

// wireError is an error received from another node: its text is the
// remote one and it matches the sentinel its wire name stands for.
type wireError struct {
	sentinel error
	msg      string
}

func (e *wireError) Error() string { return e.msg }
func (e *wireError) Unwrap() error { return e.sentinel }

// PublicErrorDomain marks the ErrorInfo detail of the public gRPC API's
// statuses (hookq.v1); its reason is the public error code.
const PublicErrorDomain = apicode.PublicDomain

// PublicGRPCStatus is err as the public gRPC API answers it: the table's
// gRPC code, err's text as the message, and an ErrorInfo detail (domain
// PublicErrorDomain) whose reason is the public error code of docs/API.md
// §2.6 (queue_full, lease_expired, not_found, …), the "code" of the HTTP
// error body. GRPCStatus is the node-to-node form.
func PublicGRPCStatus(err error) *status.Status {
	c := Classify(err)
	st := status.New(c.GRPCCode, err.Error())
	if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: c.Code, Domain: PublicErrorDomain}); derr == nil {
		return d
	}
	return st
}
