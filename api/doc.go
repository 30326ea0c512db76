// Package api is hookq's HTTP surface: the ingest route, the consumer REST
// and SSE endpoints, the admin API, health, readiness and metrics. Every
// handler reports failures through one table (errors.go) that maps domain
// errors to an HTTP status and error code.
//
// api talks to the node only through the Backend interface it declares; it
// never opens storage or Raft itself.
package api
