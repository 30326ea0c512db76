package raftfsm

import "errors"

// Errors the state machine records instead of applying an entry's content.
// Each is deterministic (it depends on the entry's bytes alone), so every
// replica records the same one and stays identical.
var (
	// ErrUndecodable is Response.Err of an entry whose data is not a
	// Command: nothing in it was applied.
	ErrUndecodable = errors.New("raftfsm: undecodable entry")
	// ErrUnknownOp is the result of an op with no kind, or with a kind
	// this build does not know (a newer leader's op type).
	ErrUnknownOp = errors.New("raftfsm: unknown or empty op")
)
