package storage

import (
	"fmt"
	"math"
	"strings"

	pb "github.com/hookq/hookq/proto/raftcmd"
)

// Checks of operation shape. The broker validates every operation before
// proposing it (tighter bounds than these); what reaches the log anyway (an
// older build, a bug, a forged entry) must not take a replica down or make
// replicas disagree. So every Txn operation first checks what its code
// relies on: a missing part, a name the key layout cannot hold, a negative
// duration, a count past any sane batch. Such an operation changes nothing
// and answers ErrInvalidOp. The checks read only the operation, never the
// clock or the state, so every replica decides alike.

const (
	// MaxLeaseRands bounds the deliveries one Lease may ask for (the
	// broker asks for at most 1000).
	MaxLeaseRands = 10000
	// MaxSweepLimit bounds a Sweep's per-kind item count (the broker's
	// sweeper uses 1000).
	MaxSweepLimit = 100000
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOp}, args...)...)
}

// storableName: names end at 0x00 inside keys, so a name holding one would
// alias another queue's keys.
func storableName(name string) bool { return name != "" && !strings.Contains(name, "\x00") }

func checkEnqueue(op *pb.Enqueue) error {
	switch {
	case op == nil:
		return invalid("empty enqueue")
	case len(op.Queues) == 0:
		return invalid("enqueue to no queue")
	case op.DedupWindowNanos < 0:
		return invalid("negative dedup window")
	}
	for _, h := range op.Headers {
		if h == nil {
			return invalid("empty header")
		}
	}
	return nil
}

func checkLease(op *pb.Lease) error {
	if op == nil {
		return invalid("empty lease")
	}
	if len(op.DeliveryRands) > MaxLeaseRands {
		return invalid("lease of %d messages is over %d", len(op.DeliveryRands), MaxLeaseRands)
	}
	for _, r := range op.DeliveryRands {
		if len(r) != deliveryRandLen {
			return invalid("delivery randomness of %d bytes, want %d", len(r), deliveryRandLen)
		}
	}
	return nil
}

// checkSettleItem is checked per item: the other items of the op apply.
func checkSettleItem(it *pb.SettleItem) error {
	if it == nil {
		return invalid("empty settle item")
	}
	switch it.Action {
	case pb.SettleAction_ACK, pb.SettleAction_NACK, pb.SettleAction_REJECT, pb.SettleAction_EXTEND:
		return nil
	}
	return invalid("unknown settle action %d", int32(it.Action))
}

func checkPutQueue(op *pb.PutQueue) error {
	if op == nil || op.Config == nil {
		return invalid("put queue without settings")
	}
	c := op.Config
	switch {
	case !storableName(op.Name):
		return invalid("queue name empty or holding 0x00")
	case c.DeadLetterQueue != "" && !storableName(c.DeadLetterQueue):
		return invalid("dead-letter queue name holding 0x00")
	case c.VisibilityTimeoutNanos < 0, c.RetentionNanos < 0, c.MaxDepth < 0:
		return invalid("negative visibility, retention or depth")
	}
	for _, b := range c.BackoffNanos {
		if b < 0 {
			return invalid("negative backoff")
		}
	}
	return nil
}

func checkPutSource(op *pb.PutSource) error {
	switch {
	case op == nil || op.Config == nil:
		return invalid("put source without settings")
	case !storableName(op.Name):
		return invalid("source name empty or holding 0x00")
	}
	return nil
}

func checkSweep(op *pb.Sweep) error {
	if op == nil || op.Limit < 0 || op.Limit > MaxSweepLimit {
		return invalid("sweep limit out of range")
	}
	return nil
}

func checkReplay(op *pb.Replay) error {
	if op == nil || op.SinceUnixNano < 0 || op.UntilUnixNano < 0 {
		return invalid("replay bounds out of range")
	}
	return nil
}

// addSat is a+b clamped to the int64 range: times past the year 2262 stay
// there instead of wrapping into the past (b may be negative).
func addSat(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}
