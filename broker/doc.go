// Package broker runs one hookq node: hashicorp/raft with a raft-boltdb/v2
// log, TCP transport and file snapshots over the raftfsm state machine; a
// leader batcher that groups concurrent operations into one Raft entry;
// long-poll waiters; and a leader-only sweeper that proposes lease expiry,
// retention GC and dedup expiry.
//
// The broker is the only place that reads the clock or draws randomness for
// the replicated state: both go into the command it proposes.
package broker
