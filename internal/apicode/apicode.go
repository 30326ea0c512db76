// Package apicode names the public error codes of hookq's APIs (the "code"
// of an HTTP error body, the reason of a public gRPC status's ErrorInfo)
// and the HTTP status and gRPC code each one answers with.
//
// It is a leaf, so the Go client (api/client) can read errors without
// pulling in the broker, Raft and Pebble. broker's error table maps errors
// to these codes; the statuses of a code live only here.
package apicode

import "google.golang.org/grpc/codes"

// Public error codes (docs/API.md §2.6), the same over HTTP and gRPC.
const (
	BadRequest           = "bad_request"
	Unauthenticated      = "unauthenticated"
	SignatureInvalid     = "signature_invalid"
	TimestampOutOfWindow = "timestamp_out_of_window"
	Forbidden            = "forbidden"
	NotFound             = "not_found"
	LeaseExpired         = "lease_expired"
	MethodNotAllowed     = "method_not_allowed"
	Conflict             = "conflict"
	PayloadTooLarge      = "payload_too_large"
	QueueFull            = "queue_full"
	Unavailable          = "unavailable"
	Internal             = "internal"
)

// PublicDomain is the ErrorInfo domain of the public gRPC API's statuses;
// their reason is the public code.
const PublicDomain = "hookq.v1"

// Status is what a code answers with on each surface.
type Status struct {
	HTTP int        // HTTP status
	GRPC codes.Code // gRPC status code
}

// statuses is the one mapping from public code to statuses. HTTP statuses
// are plain ints so the package does not import net/http.
var statuses = map[string]Status{
	BadRequest:           {400, codes.InvalidArgument},
	Unauthenticated:      {401, codes.Unauthenticated},
	SignatureInvalid:     {401, codes.Unauthenticated},
	TimestampOutOfWindow: {401, codes.Unauthenticated},
	Forbidden:            {403, codes.PermissionDenied},
	NotFound:             {404, codes.NotFound},
	LeaseExpired:         {409, codes.FailedPrecondition},
	MethodNotAllowed:     {405, codes.Unimplemented},
	Conflict:             {409, codes.AlreadyExists},
	PayloadTooLarge:      {413, codes.ResourceExhausted},
	QueueFull:            {503, codes.ResourceExhausted},
	Unavailable:          {503, codes.Unavailable},
	Internal:             {500, codes.Internal},
}

// Of is the statuses of code; an unknown code is internal (500, Internal)
// and ok is false.
func Of(code string) (s Status, ok bool) {
	s, ok = statuses[code]
	if !ok {
		return statuses[Internal], false
	}
	return s, true
}
