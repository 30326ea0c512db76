package brokertest

import (
	"testing"

	"github.com/hookq/hookq/broker"
)

// NewFake opens an in-memory node without Raft (broker.OpenLocal): every
// operation is committed and applied at once, with the broker's own code
// above the log (leader's clock, long-poll wake-ups, sweeper), on Pebble in
// memory. It always leads and has no cluster side. It is closed when the
// test ends. Use it where a test is about the API, not about replication.
func NewFake(tb testing.TB) *broker.Broker {
	tb.Helper()
	b, err := broker.OpenLocal(broker.Config{NodeID: "n1"})
	if err != nil {
		tb.Fatalf("open local broker: %v", err)
	}
	tb.Cleanup(func() {
		if err := b.Close(); err != nil {
			tb.Errorf("close local broker: %v", err)
		}
	})
	return b
}
