package broker

import (
	"context"
	"errors"
	"testing"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type stubLeader struct{ err error }

func (s stubLeader) Forward(context.Context, []*pb.Op) ([]*pb.OpResult, uint64, error) {
	return nil, 0, s.err
}

func (s stubLeader) CommitIndex(context.Context) (uint64, error) { return 0, nil }

func TestForwardErrorsAreCounted(t *testing.T) {
	c := NewForwardErrorsCounter()
	for _, err := range []error{nil, ErrLeading, ErrUnavailable, errors.New("dial: refused"), nil} {
		_, _, got := CountForwardErrors(stubLeader{err: err}, c).Forward(context.Background(), nil)
		if !errors.Is(got, err) {
			t.Fatalf("Forward answered %v, want %v", got, err)
		}
	}
	// Two failures; ErrLeading only means "propose it yourself".
	if got := testutil.ToFloat64(c); got != 2 {
		t.Fatalf("hookq_forward_errors_total = %v, want 2", got)
	}
}
