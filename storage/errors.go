package storage

import "errors"

// Domain errors. They are results, returned per operation, never a reason
// to fail a Raft apply.
var (
	ErrQueueNotFound    = errors.New("storage: queue not found")
	ErrSourceNotFound   = errors.New("storage: source not found")
	ErrTokenNotFound    = errors.New("storage: token not found")
	ErrTokenExists      = errors.New("storage: token already exists")
	ErrNodeNotFound     = errors.New("storage: node not found")
	ErrMessageNotFound  = errors.New("storage: message not found")
	ErrDeliveryNotFound = errors.New("storage: delivery not found")
	ErrLeaseExpired     = errors.New("storage: lease expired")
	ErrQueueFull        = errors.New("storage: queue full")
	ErrNotDeadLetter    = errors.New("storage: queue is not a dead-letter queue")
	ErrBadCursor        = errors.New("storage: bad cursor")
	ErrDeadLetterCycle  = errors.New("storage: dead-letter queues would form a cycle")
	ErrSourceHasSecret  = errors.New("storage: source already has a secret")
)

// ErrInvalidOp answers an operation no valid proposer builds (a missing
// part, a name the key layout cannot hold, a number out of range): it was
// applied as a no-op. The broker validates before proposing, so only a
// forged or foreign log entry gets it; see check.go.
var ErrInvalidOp = errors.New("storage: invalid operation")

// ErrSelectionTooLarge answers a replay or redrive that selects more
// messages, or more bytes of bodies, than one operation may copy or move
// (see maxSelectMessages); nothing was changed.
var ErrSelectionTooLarge = errors.New("storage: selection too large")

// ErrEntryFull means one Raft entry tried to create more messages than a
// seq can number; the broker's batch bounds make it unreachable.
var ErrEntryFull = errors.New("storage: too many messages in one entry")
