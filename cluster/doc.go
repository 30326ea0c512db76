// Package cluster is hookq's node-to-node work: the internal Cluster gRPC
// service and its credentials (cluster key, ingest key, mutual TLS),
// forwarding a follower's batches to the leader and finding that leader,
// membership (join, remove, leadership transfer), heartbeats and the
// leader's health table, the node records and their conversions, and the
// ingest-only node (IngestNode), which holds no data.
//
// A voter's cluster side is a Member built over a broker.Broker through
// the small Local interface; it implements broker.Cluster, which
// cmd/hookq installs with Broker.SetCluster. broker never imports cluster.
//
// cluster must never open storage or run a state machine of its own, read
// or write the replicated state except through broker, or serve the
// public API; and it never answers success for an operation the leader
// did not commit.
package cluster
