package broker

import "github.com/hookq/hookq/storage"

// DefaultQueueConfig is the queue defaults of docs/API.md §3.1 (their home
// is storage.DefaultQueueConfig) for a queue named name, with its
// dead-letter queue <name>.dlq.
func DefaultQueueConfig(name string) QueueConfig {
	return queueConfigOf(storage.DefaultQueueConfig(name))
}

// DeadLetterQueueDefaults are the settings of a queue that is another's
// dead-letter queue, as the state machine creates it from its parent's
// (storage.DLQDefaults): no dead-letter queue of its own, no attempt limit.
func DeadLetterQueueDefaults(parent QueueConfig) QueueConfig {
	return queueConfigOf(storage.DLQDefaults(queueConfigPB(parent)))
}
