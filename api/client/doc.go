// Package client is the Go client of hookq's consumer and publisher APIs.
//
// A Client talks gRPC (the hookq.v1 API on --grpc-addr) or, when it is
// given only an HTTP URL, REST (docs/API.md §6). Both transports offer the
// same calls with the same semantics and the same errors:
//
//   - Publish appends messages to a queue (scope publish:<queue>),
//     durable on a majority before it returns;
//   - Lease, Ack, Nack, Reject, Extend and the batch Settle lease and
//     settle deliveries one call at a time (scope consume:<queue>);
//   - Consume runs a handler over a queue's messages with bounded
//     concurrency: over gRPC it holds one Consume stream whose credits
//     bound the unsettled deliveries, over REST it batch-leases and
//     batch-settles. The handler's result settles each delivery: nil acks,
//     an error nacks (with the delay of Retry when it carries one), and an
//     error made by Reject dead-letters. Consume reconnects with jittered
//     backoff, extends the leases of slow handlers, and on cancellation
//     lets running handlers finish.
//
// Errors from hookq are *Error values carrying the API's code
// (CodeLeaseExpired, CodeQueueFull, …) together with its HTTP status and
// gRPC code; IsLeaseExpired and the other Is… helpers, or errors.Is with
// the Err… sentinels, test them.
//
// The package never retries a call by itself except inside Consume.
package client
