// Package bench owns hookq's load generator, the code behind `hookq bench`:
// signed webhook ingest at a fixed rate (open loop, latency from the
// intended send time) or as fast as answers come (closed loop); consumers
// over REST (batch lease + batch settle) and SSE (stream + batch settle);
// end-to-end runs of both at once; a local 3-process cluster run that also
// measures each node's CPU time per message; HDR-histogram percentiles,
// live progress and JSON results; and the side-by-side table against the
// JetStream anchor that `make bench` prints.
//
// It is a client of hookq's public HTTP API only. It must never import the
// server packages (api, broker, storage, raftfsm) outside tests, never take
// a shortcut a real client could not, and never end a process it did not
// start.
package bench
