package bench

import "errors"

// Sentinel errors of the package.
var (
	// ErrInvalidConfig wraps every problem found by a Config's validation.
	ErrInvalidConfig = errors.New("bench: invalid config")
	// ErrGRPCUnavailable answers --mode grpc until hookq's gRPC consumer
	// API exists (docs/API.md §11).
	ErrGRPCUnavailable = errors.New("bench: --mode grpc is not available until the gRPC API lands (docs/API.md §11); use --mode rest or sse")
	// ErrNodeExited is returned when a node that `bench cluster` started
	// exits before the run is over.
	ErrNodeExited = errors.New("bench: node exited")
)
