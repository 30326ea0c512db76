// Package storage owns hookq's Pebble database: the key layout, every queue
// state transition of docs/API.md §3 applied to one write batch, the per-queue stats
// counters, the applied Raft index, and snapshot streaming and restore.
//
// storage never sees Raft or the network and never reads the clock or
// randomness: time and delivery randomness arrive as arguments, so the same
// sequence of calls always produces byte-identical contents.
package storage
