package api

import "github.com/hookq/hookq/ingest"

// SourceRecord returns c: broker.PutSource takes ingest's config now.
//
// Deprecated: pass the config to PutSource; kept only until
// cmd/hookq/serve.go drops its call.
func SourceRecord(c ingest.SourceConfig) ingest.SourceConfig { return c }
