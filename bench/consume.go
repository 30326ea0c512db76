package bench

import (
	"context"
	"fmt"
	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Op names of the consume latency histograms.
const (
	opLease  = "lease"      // rest: one batch lease call
	opSettle = "settle"     // one batch settle call
	opE2E    = "end-to-end" // e2e: from a message's due send time to its receipt
)

// leaseWait is how long a batch lease waits for messages; a stopping
// worker notices within it.
const leaseWait = "1s"

// envelope is the part of a delivered envelope (docs/API.md §6.2) the
// consumers read.
type envelope struct {
	Payload  string `json:"payload"`
	Encoding string `json:"encoding"`
	Meta     struct {
		DeliveryID string `json:"deliveryId"`
		Attempt    uint32 `json:"attempt"`
	} `json:"meta"`
}

// consumer settles messages of one queue with cfg.Concurrency workers
// (rest) or streams (sse) until it is stopped: by its deadline, by reaching
// its expected count, by an empty lease when draining, or by ctx.
type consumer struct {
	cfg      ConsumeConfig
	clk      clock
	client   *http.Client           // requests with a timeout
	grpc     hookqv1.ConsumerClient // --mode grpc
	conn     *grpc.ClientConn       // --mode grpc; closed by runWorkers
	streams  *http.Client           // SSE streams: no timeout
	qurl     string
	rec      *Recorder
	e2e      bool // record end-to-end latency from each payload's sentAt
	deadline time.Time
	log      *slog.Logger

	settled     atomic.Int64 // messages settled ok, warmup included
	expect      atomic.Int64 // > 0: stop once settled reaches it
	redelivered atomic.Int64
	turn        atomic.Int64 // Queues > 1: the next queue to lease from
	stop        chan struct{}
	stopOnce    sync.Once
	// counted is closed once the expected count is reached: nothing is
	// left to lease, so waiting leases are abandoned at once.
	counted     chan struct{}
	countedOnce sync.Once
}

func newConsumer(cfg ConsumeConfig, clk clock, start time.Time, e2e bool, deadline time.Time) (*consumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ops := []string{opLease, opSettle}
	if cfg.Mode != ModeREST {
		ops = []string{opSettle}
	}
	if e2e {
		ops = append(ops, opE2E)
	}
	c := &consumer{
		cfg: cfg, clk: clk, e2e: e2e, deadline: deadline, log: logger(cfg.Logger),
		client:  newHTTPClient(cfg.Concurrency, 60*time.Second),
		streams: newHTTPClient(cfg.Concurrency, 0),
		qurl:    base(cfg.URL) + "/v1/queues/" + cfg.Queue,
		rec:     NewRecorder(start.Add(cfg.Warmup), ops...),
		stop:    make(chan struct{}),
		counted: make(chan struct{}),
	}
	if cfg.Mode == ModeGRPC {
		conn, err := dialGRPC(cfg)
		if err != nil {
			return nil, err
		}
		c.conn, c.grpc = conn, hookqv1.NewConsumerClient(conn)
	}
	c.expect.Store(cfg.Count)
	return c, nil
}

func (c *consumer) halt() { c.stopOnce.Do(func() { close(c.stop) }) }

// reached stops the consumer because its count is reached.
func (c *consumer) reached() {
	c.countedOnce.Do(func() { close(c.counted) })
	c.halt()
}

func (c *consumer) stopped() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// setExpect sets the count to stop at (e2e learns it when ingest ends).
func (c *consumer) setExpect(n int64) {
	c.expect.Store(n)
	if n > 0 && c.settled.Load() >= n {
		c.reached()
	}
}

// runWorkers consumes until stopped and reports.
func (c *consumer) runWorkers(ctx context.Context) *PhaseReport {
	watch := make(chan struct{})
	go func() {
		tm := time.NewTimer(time.Until(c.deadline))
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-ctx.Done():
		case <-watch:
		}
		c.halt()
	}()
	var wg sync.WaitGroup
	for range c.cfg.Concurrency {
		switch c.cfg.Mode {
		case ModeSSE:
			wg.Go(func() { c.sseWorker(ctx) })
		case ModeGRPC:
			wg.Go(func() { c.grpcWorker(ctx) })
		default:
			wg.Go(func() { c.restWorker(ctx) })
		}
	}
	wg.Wait()
	close(watch)
	closeIdle(c.client)
	closeIdle(c.streams)
	if c.conn != nil {
		_ = c.conn.Close()
	}
	p := &PhaseReport{Name: "consume", URL: c.qurl, Settings: Settings{
		Mode: c.cfg.Mode, Concurrency: c.cfg.Concurrency, Batch: c.cfg.Batch, Duration: c.cfg.Duration.String(), Warmup: c.cfg.Warmup.String(),
	}}
	if c.cfg.Mode != ModeREST {
		p.Settings.MaxInFlight = c.cfg.MaxInFlight
	}
	c.rec.report(p, c.clk.Now())
	p.Redelivered = c.redelivered.Load()
	exp := c.expect.Load()
	p.Capped = exp > 0 && c.settled.Load() < exp && ctx.Err() == nil
	p.Interrupted = ctx.Err() != nil
	return p
}

// pause waits a little after an error so a failing node is not hammered.
func (c *consumer) pause(ctx context.Context) {
	_ = c.clk.SleepUntil(ctx, c.clk.Now().Add(50*time.Millisecond))
}

// restWorker leases a batch, settles it, and repeats. It checks for a stop
// only between batches, so everything it leased is settled; only once the
// expected count is reached does it abandon a lease that is waiting.
// Lease latency is recorded for leases that brought messages (an empty
// one is a long poll that timed out).
func (c *consumer) restWorker(ctx context.Context) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.counted:
			cancel()
		case <-lctx.Done():
		}
	}()
	for !c.stopped() && ctx.Err() == nil {
		qurl, wait := c.qurl, leaseWait
		if c.cfg.Queues > 1 {
			_, q := c.cfg.names(c.turn.Add(1))
			qurl, wait = base(c.cfg.URL)+"/v1/queues/"+q, "0s"
		}
		t0 := c.clk.Now()
		var out struct {
			Messages []envelope `json:"messages"`
		}
		err := call(lctx, c.client, http.MethodPost, qurl+"/lease", c.cfg.Token,
			map[string]any{"max": c.cfg.Batch, "wait": wait}, &out)
		t1 := c.clk.Now()
		if err != nil {
			if lctx.Err() != nil {
				return
			}
			c.log.Debug("lease failed", "err", err)
			c.rec.Error(t0, t1, "lease "+errorKind(err))
			c.pause(ctx)
			continue
		}
		if len(out.Messages) == 0 {
			if c.cfg.Drain && c.cfg.Queues <= 1 {
				c.halt()
			}
			continue
		}
		c.rec.Latency(opLease, t0, t1)
		ids := make([]string, len(out.Messages))
		for i := range out.Messages {
			ids[i] = out.Messages[i].Meta.DeliveryID
			c.received(&out.Messages[i], t1)
		}
		c.settle(ctx, qurl, t0, ids)
	}
}

// received notes a delivery that arrived at at.
func (c *consumer) received(e *envelope, at time.Time) {
	if e.Meta.Attempt > 1 {
		c.redelivered.Add(1)
	}
	if c.e2e && e.Encoding != "base64" {
		if sent, ok := sentAt([]byte(e.Payload)); ok {
			c.rec.Latency(opE2E, sent, at)
		}
	}
}

// settle acks ids in one batch settle call (REST, or the Settle RPC in
// grpc mode); the messages count as due at due (their lease or receipt).
func (c *consumer) settle(ctx context.Context, qurl string, due time.Time, ids []string) {
	t2 := c.clk.Now()
	var statuses []string
	var err error
	if c.cfg.Mode == ModeGRPC {
		statuses, err = c.settleGRPC(ctx, ids)
	} else {
		statuses, err = c.settleREST(ctx, qurl, ids)
	}
	t3 := c.clk.Now()
	if err != nil {
		if ctx.Err() == nil {
			c.log.Debug("settle failed", "n", len(ids), "err", err)
			c.rec.Error(due, t3, "settle "+errorKind(err))
		}
		return
	}
	c.rec.Latency(opSettle, t2, t3)
	var ok int64
	for _, st := range statuses {
		if st == "ok" {
			ok++
		} else {
			c.rec.Error(due, t3, "settle "+st)
		}
	}
	c.rec.Messages(due, t3, ok)
	if n, exp := c.settled.Add(ok), c.expect.Load(); exp > 0 && n >= exp {
		c.reached()
	}
}

// settleREST acks ids with POST …/settle and returns each item's status.
func (c *consumer) settleREST(ctx context.Context, qurl string, ids []string) ([]string, error) {
	var out struct {
		Results []struct {
			DeliveryID string `json:"deliveryId"`
			Status     string `json:"status"`
		} `json:"results"`
	}
	if err := call(ctx, c.client, http.MethodPost, qurl+"/settle", c.cfg.Token, map[string]any{"ack": ids}, &out); err != nil {
		return nil, err
	}
	statuses := make([]string, len(out.Results))
	for i, r := range out.Results {
		statuses[i] = r.Status
	}
	return statuses, nil
}

// RunConsume consumes cfg.Queue until cfg.Warmup+cfg.Duration has passed,
// cfg.Count messages were settled, or (with cfg.Drain) the queue is empty,
// with live progress, and reports the measured part.
func RunConsume(ctx context.Context, cfg ConsumeConfig) (*PhaseReport, error) {
	start := time.Now()
	c, err := newConsumer(cfg, realClock{}, start, false, start.Add(cfg.Warmup+cfg.Duration))
	if err != nil {
		return nil, err
	}
	stop := startProgress(cfg.Progress, start, progressLine{"consume", c.rec})
	p := c.runWorkers(ctx)
	stop()
	if p.Total() == 0 && p.Errors+p.WarmupErrors > 0 {
		return p, fmt.Errorf("consume: nothing consumed, %d errors (%v)", p.Errors+p.WarmupErrors, p.ErrorKinds)
	}
	return p, nil
}
