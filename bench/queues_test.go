package bench

import (
	"errors"
	"strings"
	"testing"
)

func TestTargetNamesSpreadOverQueues(t *testing.T) {
	one := Target{Source: "bench", Queue: "bench"}
	if s, q := one.names(7); s != "bench" || q != "bench" {
		t.Fatalf("one queue: names(7) = %s, %s; want bench, bench", s, q)
	}
	many := Target{Source: "src", Queue: "q", Queues: 100}
	if s, q := many.names(7); s != "src-7" || q != "q-7" {
		t.Fatalf("names(7) = %s, %s; want src-7, q-7", s, q)
	}
	if s, q := many.names(207); s != "src-7" || q != "q-7" {
		t.Fatalf("names(207) = %s, %s; want src-7, q-7 (taken in turn)", s, q)
	}
}

func TestQueuesOutOfRangeIsRefused(t *testing.T) {
	for _, n := range []int{-1, MaxQueues + 1} {
		tg := Target{URL: "http://127.0.0.1:1", Source: "s", Queue: "q", Queues: n}
		if err := tg.validate(false); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("--queues %d: %v, want ErrInvalidConfig", n, err)
		}
	}
	c := ConsumeConfig{Target: Target{URL: "http://127.0.0.1:1", Token: "t", Source: "s", Queue: "q", Queues: 10}, Mode: ModeSSE, Batch: 10, Concurrency: 1, MaxInFlight: 10}
	if err := c.validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "--queues") {
		t.Errorf("sse with --queues 10: %v, want ErrInvalidConfig", err)
	}
}
