package broker

import (
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
)

// Queue setting defaults of docs/API.md §3.1.
const (
	DefaultVisibility  = 30 * time.Second
	DefaultMaxAttempts = 5
	DefaultRetention   = 24 * time.Hour
	DefaultMaxDepth    = 1000000
)

// DefaultBackoff is the nack delay by attempt; the last entry repeats.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}

// DefaultQueueConfig is the defaults of docs/API.md §3.1 for a queue named name, with
// its dead-letter queue <name>.dlq.
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
