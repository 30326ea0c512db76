package broker

import (
	"errors"

	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
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
