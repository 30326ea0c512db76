package api

import (
	"github.com/hookq/hookq/ingest"
	pb "github.com/hookq/hookq/proto/raftcmd"
)

// SourceRecord converts a normalized ingest config to the stored record.
func SourceRecord(c ingest.SourceConfig) *pb.SourceConfig { return sourceFromIngest(c) }
