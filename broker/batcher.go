package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/raftfsm"
	"google.golang.org/protobuf/proto"
)

// batcher is the leader's group commit: concurrent operations are packed
// into one Raft entry (bounded by count, bytes and a short linger), and up
// to MaxInFlight entries are replicating at once.
type batcher struct {
	b        *Broker
	in       chan *proposal
	inflight chan struct{}
}

type proposal struct {
	op   *pb.Op
	size int
	done chan outcome
}

type outcome struct {
	res any
	err error
}

func newBatcher(b *Broker) *batcher {
	return &batcher{
		b:        b,
		in:       make(chan *proposal, 4*b.cfg.Batch.MaxOps),
		inflight: make(chan struct{}, b.cfg.Batch.MaxInFlight),
	}
}

// propose submits op and waits for its result: nil error means the entry
// holding it was committed and applied.
func (bt *batcher) propose(ctx context.Context, op *pb.Op) (any, error) {
	if bt.b.raft.State() != raft.Leader {
		return nil, ErrNotLeader
	}
	p := &proposal{op: op, size: proto.Size(op), done: make(chan outcome, 1)}
	select {
	case bt.in <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-bt.b.ctx.Done():
		return nil, ErrClosed
	}
	// Once queued, the entry may commit: wait for the outcome even if the
	// caller gives up, so a 2xx is never sent for uncommitted work and an
	// error is never sent for committed work without the caller knowing.
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v (outcome unknown)", ErrUnavailable, ctx.Err())
	}
}

// run collects proposals into entries. While every in-flight slot is busy
// it keeps collecting, so batches grow with load (natural group commit);
// an optional linger waits a little longer for stragglers.
func (bt *batcher) run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	cfg := bt.b.cfg.Batch
	var flights sync.WaitGroup
	defer flights.Wait()
	for {
		var batch []*proposal
		size := 0
		add := func(p *proposal) {
			batch = append(batch, p)
			size += p.size
		}
		full := func() bool { return len(batch) >= cfg.MaxOps || size >= cfg.MaxBytes }
		select {
		case <-ctx.Done():
			bt.drain(ErrClosed)
			return
		case p := <-bt.in:
			add(p)
		}
		// Wait for a free slot, collecting meanwhile.
		acquired := false
		for !acquired {
			in := bt.in
			if full() {
				in = nil
			}
			select {
			case bt.inflight <- struct{}{}:
				acquired = true
			case p := <-in:
				add(p)
			case <-ctx.Done():
				fail(batch, ErrClosed)
				bt.drain(ErrClosed)
				return
			}
		}
		bt.collect(add, full, cfg.Linger)
		f := bt.apply(batch)
		flights.Add(1)
		go func() {
			defer flights.Done()
			defer func() { <-bt.inflight }()
			bt.finish(batch, f)
		}()
	}
}

// collect takes what is already queued, then lingers for more.
func (bt *batcher) collect(add func(*proposal), full func() bool, linger time.Duration) {
	var deadline <-chan time.Time
	if linger > 0 {
		t := time.NewTimer(linger)
		defer t.Stop()
		deadline = t.C
	}
	for !full() {
		select {
		case p := <-bt.in:
			add(p)
			continue
		default:
		}
		if deadline == nil {
			return
		}
		select {
		case p := <-bt.in:
			add(p)
		case <-deadline:
			return
		}
	}
}

func (bt *batcher) apply(batch []*proposal) raft.ApplyFuture {
	cmd := &pb.Command{LeaderTimeUnixNano: time.Now().UnixNano(), Ops: make([]*pb.Op, len(batch))}
	for i, p := range batch {
		cmd.Ops[i] = p.op
	}
	data, err := proto.Marshal(cmd)
	if err != nil {
		panic(fmt.Sprintf("broker: marshal command: %v", err))
	}
	return bt.b.raft.Apply(data, bt.b.cfg.Raft.ApplyTimeout)
}

func (bt *batcher) finish(batch []*proposal, f raft.ApplyFuture) {
	if err := f.Error(); err != nil {
		fail(batch, raftError(err))
		return
	}
	resp, ok := f.Response().(*raftfsm.Response)
	if !ok || len(resp.Results) != len(batch) {
		fail(batch, fmt.Errorf("%w: unexpected apply response %T", ErrUnavailable, f.Response()))
		return
	}
	for i, p := range batch {
		p.done <- outcome{res: resp.Results[i]}
	}
}

func fail(batch []*proposal, err error) {
	for _, p := range batch {
		p.done <- outcome{err: err}
	}
}

func (bt *batcher) drain(err error) {
	for {
		select {
		case p := <-bt.in:
			p.done <- outcome{err: err}
		default:
			return
		}
	}
}

// raftError maps Raft's failures to the broker's: not leader (the caller
// may go to the leader), or unavailable (outcome unknown: retry; dedup makes
// that safe).
func raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return ErrNotLeader
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrEnqueueTimeout), errors.Is(err, raft.ErrRaftShutdown), errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}
