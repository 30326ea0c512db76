package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hookq/hookq/broker"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// leaderLocator finds the current leader's gRPC address; leaderChanged
// tells it the address it gave answered "not leader" or was unreachable.
// selfLeads reports whether the local node itself now leads: its batch
// must then go through its own Raft (broker.ErrLeading).
type leaderLocator interface {
	leaderGRPC() (id, addr string, ok bool)
	leaderChanged()
	selfLeads() bool
}

// leaderSearch bounds how long a forwarder looks for a leader (an election
// takes one to two election timeouts) before answering unavailable.
const leaderSearch = 3 * time.Second

// forward sends a batch of operations to the leader in one Propose call,
// following "not leader" answers (nothing was proposed, so a retry is
// safe) for up to leaderSearch; the call itself may take up to timeout.
// Any other failure is an unknown outcome.
func forward(ctx context.Context, loc leaderLocator, p *peers, ops []*pb.Op, timeout time.Duration) ([]*pb.OpResult, uint64, error) {
	deadline := time.Now().Add(leaderSearch)
	backoff := 20 * time.Millisecond
	for {
		if loc.selfLeads() {
			return nil, 0, broker.ErrLeading
		}
		_, addr, ok := loc.leaderGRPC()
		if ok {
			c, err := p.client(addr)
			if err != nil {
				return nil, 0, err
			}
			cctx, cancel := context.WithTimeout(ctx, timeout)
			resp, err := c.Propose(p.ctx(cctx), &pb.ProposeRequest{Ops: ops})
			cancel()
			if err == nil {
				if len(resp.Results) != len(ops) {
					return nil, 0, fmt.Errorf("%w: leader answered %d results for %d ops", broker.ErrUnavailable, len(resp.Results), len(ops))
				}
				return resp.Results, resp.Index, nil
			}
			st := status.Convert(err)
			loc.leaderChanged()
			if st.Code() != codes.FailedPrecondition {
				// Could not reach it, the connection broke mid-call, or
				// anything else: the outcome is unknown.
				return nil, 0, fmt.Errorf("%w: leader %s: %s", broker.ErrUnavailable, addr, st.Message())
			}
			// Not the leader any more: nothing proposed; look again.
		}
		if time.Now().Add(backoff).After(deadline) {
			return nil, 0, fmt.Errorf("%w: no reachable leader", broker.ErrNotLeader)
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%w: no reachable leader", broker.ErrNotLeader)
		case <-time.After(backoff):
		}
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
}
