package bench

import "errors"

// Sentinel errors of the package.
var (
	// ErrInvalidConfig wraps every problem found by a Config's validation.
	ErrInvalidConfig = errors.New("bench: invalid config")
	// ErrNodeExited is returned when a node that `bench cluster` started
	// exits before the run is over.
	ErrNodeExited = errors.New("bench: node exited")
)
