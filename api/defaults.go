package api

import (
	"time"

	"github.com/hookq/hookq/ingest"
	pb "github.com/hookq/hookq/proto/raftcmd"
)

// Queue setting defaults of SPEC §3.
var (
	defaultVisibility = 30 * time.Second
	defaultBackoff    = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}
	defaultRetention  = 24 * time.Hour
)

const (
	defaultMaxAttempts = 5
	defaultMaxDepth    = 1000000
)

// DefaultQueueConfig is SPEC §3's defaults for a queue named name.
func DefaultQueueConfig(name string) *pb.QueueConfig {
	c := &pb.QueueConfig{
		VisibilityTimeoutNanos: int64(defaultVisibility),
		MaxAttempts:            defaultMaxAttempts,
		DeadLetterQueue:        name + ".dlq",
		RetentionNanos:         int64(defaultRetention),
		MaxDepth:               defaultMaxDepth,
	}
	for _, d := range defaultBackoff {
		c.BackoffNanos = append(c.BackoffNanos, int64(d))
	}
	return c
}

// SourceRecord converts a normalized ingest config to the stored record.
func SourceRecord(c ingest.SourceConfig) *pb.SourceConfig { return sourceFromIngest(c) }
