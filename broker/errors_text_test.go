package broker

import (
	"fmt"
	"testing"
)

func TestPublicMessageDropsInternalPrefixes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("queue %q: %w", "orders", ErrQueueNotFound), `queue "orders": queue not found`},
		{fmt.Errorf("%w: reading body: short", ErrInvalidRequest), "bad request: reading body: short"},
		{fmt.Errorf("source %q: %w", "s", fmt.Errorf("%w: leader 127.0.0.1:9: gone", ErrUnavailable)), `source "s": unavailable: leader 127.0.0.1:9: gone`},
		{ErrLeading, "this node leads now"},
		{fmt.Errorf("field apis: bad"), "field apis: bad"},
	} {
		if got := PublicMessage(c.err); got != c.want {
			t.Errorf("PublicMessage(%q) = %q, want %q", c.err, got, c.want)
		}
		if got := GRPCStatus(c.err).Message(); got != c.want {
			t.Errorf("GRPCStatus(%q).Message() = %q, want %q", c.err, got, c.want)
		}
	}
}
