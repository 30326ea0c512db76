package api

import (
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/ingest"
	pb "github.com/hookq/hookq/proto/raftcmd"
)

// DefaultQueueConfig is SPEC §3's defaults for a queue named name.
func DefaultQueueConfig(name string) *pb.QueueConfig { return broker.DefaultQueueConfig(name) }

// SourceRecord converts a normalized ingest config to the stored record.
func SourceRecord(c ingest.SourceConfig) *pb.SourceConfig { return sourceFromIngest(c) }
