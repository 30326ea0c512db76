package cluster_test

import (
	"context"
	"testing"

	"github.com/hookq/hookq/broker"
)

func mustQueue(t testing.TB, b *broker.Broker, name string) {
	t.Helper()
	if _, err := b.PutQueue(context.Background(), name, broker.DefaultQueueConfig(name)); err != nil {
		t.Fatalf("put queue: %v", err)
	}
}
