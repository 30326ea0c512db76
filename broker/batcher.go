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
	cfg      BatchConfig
	life     context.Context // ends with the node
	dispatch func(ctx context.Context, batch []*proposal)
	in       chan *proposal
	inflight chan struct{}
}

type proposal struct {
	op   *pb.Op
	size int
	done chan outcome
	// forwarded: another node sent it here because this node led. If this
	// node no longer leads when the batch goes out, it answers "not
	// leader" (nothing proposed) rather than forwarding it again.
	forwarded bool
}

type outcome struct {
	res   any
	err   error
	index uint64 // Raft index of the entry that held the op (0 if unknown)
}

// newBatcher returns a batcher that hands each collected batch to
// dispatch, which must answer every proposal in it.
func newBatcher(life context.Context, cfg BatchConfig, dispatch func(context.Context, []*proposal)) *batcher {
	return &batcher{
		cfg:      cfg,
		life:     life,
		dispatch: dispatch,
		in:       make(chan *proposal, 4*cfg.MaxOps),
		inflight: make(chan struct{}, cfg.MaxInFlight),
	}
}

// propose submits op and waits for its result: nil error means the entry
// holding it was committed and applied. On a follower the batch goes to
// the leader in one forwarding call.
func (bt *batcher) propose(ctx context.Context, op *pb.Op) (any, error) {
	p, err := bt.submit(ctx, op, false)
	if err != nil {
		return nil, err
	}
	if p == nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrClosed
	}
	return bt.await(ctx, p)
}

// submit validates op and queues it; a nil proposal with a nil error
// means ctx or the node ended first. Validation happens here, so ops
// forwarded by other nodes are checked exactly like local ones.
func (bt *batcher) submit(ctx context.Context, op *pb.Op, forwarded bool) (*proposal, error) {
	size, err := validateOp(op)
	if err != nil {
		return nil, err
	}
	p := &proposal{op: op, size: size, done: make(chan outcome, 1), forwarded: forwarded}
	select {
	case bt.in <- p:
		return p, nil
	case <-ctx.Done():
		return nil, nil
	case <-bt.life.Done():
		return nil, nil
	}
}

// await waits for p's outcome. Once queued, the entry may commit: if the
// caller gives up first it learns only that the outcome is unknown.
func (bt *batcher) await(ctx context.Context, p *proposal) (any, error) {
	o := bt.awaitOutcome(ctx, p)
	return o.res, o.err
}

func (bt *batcher) awaitOutcome(ctx context.Context, p *proposal) outcome {
	select {
	case o := <-p.done:
		return o
	case <-ctx.Done():
		return outcome{err: fmt.Errorf("%w: %v (outcome unknown)", ErrUnavailable, ctx.Err())}
	case <-bt.life.Done():
		// The node is closing: a proposal queued after the batcher's last
		// drain is never read. Prefer an outcome that did arrive.
		select {
		case o := <-p.done:
			return o
		default:
			return outcome{err: fmt.Errorf("%w: node closing (outcome unknown)", ErrUnavailable)}
		}
	}
}

// proposeLocal submits ops forwarded by another node, letting them join
// this leader's batches, and waits for all of them.
func (bt *batcher) proposeLocal(ctx context.Context, ops []*pb.Op) []outcome {
	ps := make([]*proposal, len(ops))
	out := make([]outcome, len(ops))
	for i, op := range ops {
		var err error
		ps[i], err = bt.submit(ctx, op, true)
		if err != nil {
			out[i] = outcome{err: err}
		}
	}
	for i, p := range ps {
		if out[i].err != nil {
			continue
		}
		if p == nil {
			out[i] = outcome{err: ErrClosed}
			continue
		}
		out[i] = bt.awaitOutcome(ctx, p)
	}
	return out
}

// run collects proposals into entries. While every in-flight slot is busy
// it keeps collecting, so batches grow with load (natural group commit);
// an optional linger waits a little longer for stragglers.
func (bt *batcher) run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	cfg := bt.cfg
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
		flights.Add(1)
		go func() {
			defer flights.Done()
			defer func() { <-bt.inflight }()
			bt.dispatch(ctx, batch)
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

// dispatchBatch commits a batch: through Raft on the leader, or forwarded
// to the leader in one call from a follower (through the installed
// Leader). If this node became the leader meanwhile, it commits the batch
// itself.
func (b *Broker) dispatchBatch(ctx context.Context, batch []*proposal) {
	if b.selfLeads() {
		b.commit(batch)
		return
	}
	var local []*proposal
	for _, p := range batch {
		if p.forwarded {
			p.done <- outcome{err: ErrNotLeader}
		} else {
			local = append(local, p)
		}
	}
	if len(local) == 0 {
		return
	}
	l := b.cluster.get()
	if l == nil {
		fail(local, errNoCluster)
		return
	}
	if err := forwardBatch(ctx, l, local, b.waitApplied); err != nil {
		b.commit(local)
	}
}

// selfLeads reports whether this node's Raft is the leader (a local node
// always leads).
func (b *Broker) selfLeads() bool { return b.local != nil || b.raft.State() == raft.Leader }

// commit proposes batch as one Raft entry and answers every proposal.
func (b *Broker) commit(batch []*proposal) {
	cmd := &pb.Command{LeaderTimeUnixNano: time.Now().UnixNano(), Ops: make([]*pb.Op, len(batch))}
	for i, p := range batch {
		cmd.Ops[i] = p.op
	}
	data, err := proto.Marshal(cmd)
	if err != nil {
		// validateOp encoded every op alone, so this is a bug, not input:
		// answer it rather than take the node down.
		fail(batch, fmt.Errorf("%w: encode command: %v", ErrBadRequest, err))
		return
	}
	b.entryOps.Observe(float64(len(batch)))
	if b.local != nil {
		b.finish(batch, b.local.apply(data))
		return
	}
	b.finish(batch, b.raft.Apply(data, b.cfg.Raft.ApplyTimeout))
}

func (b *Broker) finish(batch []*proposal, f raft.ApplyFuture) {
	if err := f.Error(); err != nil {
		fail(batch, raftError(err))
		return
	}
	resp, ok := f.Response().(*raftfsm.Response)
	if ok && resp.Err != nil {
		// The state machine could not decode the entry and applied nothing.
		fail(batch, fmt.Errorf("%w: %v", ErrBadRequest, resp.Err))
		return
	}
	if !ok || len(resp.Results) != len(batch) {
		fail(batch, fmt.Errorf("%w: unexpected apply response %T", ErrUnavailable, f.Response()))
		return
	}
	idx := f.Index()
	for i, p := range batch {
		p.done <- outcome{res: resp.Results[i], index: idx}
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
