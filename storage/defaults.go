package storage

import (
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/protobuf/proto"
)

// Queue setting defaults of docs/API.md §3.1. This is their one home:
// broker.DefaultQueueConfig and api's PUT /v1/queues/{q} start from
// DefaultQueueConfig, and the state machine creates dead-letter queues
// with DLQDefaults.
const (
	DefaultVisibility  = 30 * time.Second
	DefaultMaxAttempts = 5
	DefaultRetention   = 24 * time.Hour
	DefaultMaxDepth    = 1_000_000
)

// DefaultBackoff is the nack delay by attempt; the last entry repeats.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}

// DefaultQueueConfig is the defaults for a queue named name, with its
// dead-letter queue <name>.dlq.
func DefaultQueueConfig(name string) *pb.QueueConfig {
	c := &pb.QueueConfig{
		VisibilityTimeoutNanos: int64(DefaultVisibility),
		MaxAttempts:            DefaultMaxAttempts,
		DeadLetterQueue:        name + ".dlq",
		RetentionNanos:         int64(DefaultRetention),
		MaxDepth:               DefaultMaxDepth,
	}
	for _, d := range DefaultBackoff {
		c.BackoffNanos = append(c.BackoffNanos, int64(d))
	}
	return c
}

// DLQDefaults derives the settings of a dead-letter queue created with its
// queue: no DLQ of its own and no attempt limit, so messages stay until they
// are consumed, redriven or purged.
func DLQDefaults(parent *pb.QueueConfig) *pb.QueueConfig {
	c := proto.Clone(parent).(*pb.QueueConfig)
	c.MaxAttempts = 0
	c.DeadLetterQueue = ""
	return c
}
