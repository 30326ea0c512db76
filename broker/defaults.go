package broker

import (
	"time"

	"github.com/hookq/hookq/storage"
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
func DefaultQueueConfig(name string) QueueConfig {
	return QueueConfig{
		VisibilityTimeout: DefaultVisibility, MaxAttempts: DefaultMaxAttempts,
		Backoff: append([]time.Duration(nil), DefaultBackoff...), DeadLetterQueue: name + ".dlq",
		Retention: DefaultRetention, MaxDepth: DefaultMaxDepth,
	}
}

// DeadLetterQueueDefaults are the settings of a queue that is another's
// dead-letter queue, as the broker creates it from its parent's (see
// storage.DLQDefaults): no dead-letter queue of its own, no attempt limit.
func DeadLetterQueueDefaults(parent QueueConfig) QueueConfig {
	return queueConfigOf(storage.DLQDefaults(queueConfigPB(parent)))
}
