// Package api is hookq's HTTP surface: the ingest route, the consumer REST
// and SSE endpoints, the admin API, health, readiness and metrics. Every
// handler reports failures through one table (errors.go) that maps domain
// errors to an HTTP status and error code.
//
// api talks to the node only through the role interfaces it declares in
// backend.go (Ingester, Consumer, Admin, ClusterInfo, Authenticator,
// Backupper), in broker's and ingest's vocabulary: it imports neither storage nor the
// Raft commands (proto/raftcmd), which internal/importrules enforces.
// Tests run most handlers over brokertest.NewFake (no Raft) and keep real
// Raft for the cluster routes, quorum and shutdown.
package api
