package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// leaderTrailer carries, on a FailedPrecondition answer, the id of the
// leader the answering node knows.
const leaderTrailer = "hookq-leader"

// peers keeps one long-lived gRPC connection per node address, the
// transport credentials they are dialed with (see peerCredentials) and the
// cluster key that authenticates calls on them.
type peers struct {
	key   string
	creds credentials.TransportCredentials
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

func newPeers(key string, creds credentials.TransportCredentials) *peers {
	return &peers{key: key, creds: creds, conns: map[string]*grpc.ClientConn{}}
}

func (p *peers) client(addr string) (pb.ClusterClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.conns[addr]; ok {
		return pb.NewClusterClient(c), nil
	}
	c, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(p.creds),
		// Peers restart and come back as leader within seconds: keep the
		// reconnect backoff short (gRPC's default grows to 2 minutes, and a
		// connection in backoff fails every call fast).
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %v", ErrUnavailable, addr, err)
	}
	p.conns[addr] = c
	return pb.NewClusterClient(c), nil
}

func (p *peers) ctx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+p.key)
}

func (p *peers) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.conns {
		c.Close() // #nosec G104 -- closing peer connections on shutdown; nothing to recover
		delete(p.conns, a)
	}
}

// leaderLocator finds the current leader's gRPC address; leaderChanged
// tells it the address it gave answered "not leader" or was unreachable.
// selfLeads reports whether the local node itself now leads: its batch
// must then go through its own Raft, never over gRPC to itself (that call
// would wait for a batcher slot its own caller holds).
type leaderLocator interface {
	leaderGRPC() (id, addr string, ok bool)
	leaderChanged()
	selfLeads() bool
}

// errSelfLeads: the node forwarding a batch became the leader meanwhile.
var errSelfLeads = errors.New("broker: this node leads now")

// selfLeads reports whether this node's Raft is the leader.
func (b *Broker) selfLeads() bool { return b.raft.State() == raft.Leader }

// leaderChanged is a no-op for voters: Raft tells them the leader.
func (b *Broker) leaderChanged() {}

// leaderGRPC resolves the leader through Raft and the node records of the
// replicated state.
func (b *Broker) leaderGRPC() (string, string, bool) {
	_, id := b.raft.LeaderWithID()
	if id == "" {
		return "", "", false
	}
	if string(id) == b.cfg.NodeID {
		return string(id), b.cfg.GRPCAddr, true
	}
	nodes, err := b.store.Nodes()
	if err != nil {
		return "", "", false
	}
	for _, n := range nodes {
		if n.Id == string(id) && n.GrpcAddr != "" {
			return n.Id, n.GrpcAddr, true
		}
	}
	return string(id), "", false
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
			return nil, 0, errSelfLeads
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
					return nil, 0, fmt.Errorf("%w: leader answered %d results for %d ops", ErrUnavailable, len(resp.Results), len(ops))
				}
				return resp.Results, resp.Index, nil
			}
			st := status.Convert(err)
			loc.leaderChanged()
			switch st.Code() {
			case codes.FailedPrecondition:
				// Not the leader any more: nothing proposed; look again.
			case codes.Unavailable:
				// Could not reach it, or the connection broke mid-call.
				return nil, 0, fmt.Errorf("%w: leader %s: %s", ErrUnavailable, addr, st.Message())
			default:
				return nil, 0, fmt.Errorf("%w: leader %s: %s", ErrUnavailable, addr, st.Message())
			}
		}
		if time.Now().Add(backoff).After(deadline) {
			return nil, 0, fmt.Errorf("%w: no reachable leader", ErrNotLeader)
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%w: no reachable leader", ErrNotLeader)
		case <-time.After(backoff):
		}
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
}

// notLeaderStatus is the answer of a node that is not the leader.
func (b *Broker) notLeaderStatus(ctx context.Context) error {
	_, id := b.raft.LeaderWithID()
	_ = grpc.SetTrailer(ctx, metadata.Pairs(leaderTrailer, string(id)))
	return status.Error(codes.FailedPrecondition, "not leader")
}
