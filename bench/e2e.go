package bench

import (
	"context"
	"io"
	"sync"
	"time"
)

// E2EConfig is an ingest and a consume phase run at the same time against
// one node. Consume.Duration and Consume.Warmup are taken from Ingest.
type E2EConfig struct {
	Ingest  IngestConfig
	Consume ConsumeConfig
	// Drain bounds how long consumers go on after ingest ends to settle
	// every accepted message (default: max(Ingest.Duration, 10s)).
	Drain    time.Duration
	Progress io.Writer // live progress; nil = none
}

// RunE2E ingests and consumes at once. Consumers record, besides their
// calls, each delivery's end-to-end latency from the time its send was due
// (carried in the body), so an open-loop run is corrected for coordinated
// omission end to end too. Once ingest is over, consumers stop when they
// have settled every message ingest had accepted (warmup included), or
// after cfg.Drain.
func RunE2E(ctx context.Context, cfg E2EConfig) (ingestReport, consumeReport *PhaseReport, err error) {
	in, out := cfg.Ingest, cfg.Consume
	out.Duration, out.Warmup, out.Count = in.Duration, in.Warmup, 0
	in.Progress, out.Progress = nil, nil
	drain := cfg.Drain
	if drain <= 0 {
		drain = max(in.Duration, 10*time.Second)
	}
	start := time.Now()
	g, err := newIngester(in, realClock{}, start)
	if err != nil {
		return nil, nil, err
	}
	c, err := newConsumer(out, realClock{}, start, true, start.Add(in.Warmup+in.Duration+drain))
	if err != nil {
		return nil, nil, err
	}
	stop := startProgress(cfg.Progress, start, progressLine{"ingest", g.rec}, progressLine{"consume", c.rec})
	var wg sync.WaitGroup
	wg.Go(func() { consumeReport = c.runWorkers(ctx) })
	ingestReport = g.runWorkers(ctx)
	if n := ingestReport.Total(); n > 0 {
		c.setExpect(n)
	} else {
		c.halt()
	}
	wg.Wait()
	stop()
	return ingestReport, consumeReport, nil
}
