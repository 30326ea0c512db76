package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Op names of the ingest latency histogram.
const opPost = "post"

// errDuplicate is a 200 duplicate answer: the event id was taken already,
// so nothing was stored.
var errDuplicate = &statusError{Status: http.StatusOK, Code: "duplicate"}

// ingester posts signed webhooks as a Schedule says.
type ingester struct {
	cfg    IngestConfig
	clk    clock
	client *http.Client
	sign   *signer
	url    string
	run    string
	seq    atomic.Int64
	rec    *Recorder
	sched  *Schedule
	log    *slog.Logger
}

func newIngester(cfg IngestConfig, clk clock, start time.Time) (*ingester, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s, err := newSigner(cfg.Provider, cfg.Secret)
	if err != nil {
		return nil, err
	}
	return &ingester{
		cfg: cfg, clk: clk, client: newHTTPClient(cfg.Concurrency, 30*time.Second), sign: s,
		url: base(cfg.URL) + "/hooks/" + cfg.Source, run: newRunID(),
		rec:   NewRecorder(start.Add(cfg.Warmup), opPost),
		sched: newSchedule(clk, start, start.Add(cfg.Warmup+cfg.Duration), cfg.Rate),
		log:   logger(cfg.Logger),
	}, nil
}

// run drives cfg.Concurrency workers until the schedule is over and every
// answer is in, then reports.
func (g *ingester) runWorkers(ctx context.Context) *PhaseReport {
	var wg sync.WaitGroup
	for range g.cfg.Concurrency {
		wg.Go(func() { drive(ctx, g.sched, func(due time.Time) { g.send(ctx, due) }) })
	}
	wg.Wait()
	closeIdle(g.client)
	p := &PhaseReport{Name: "ingest", URL: g.url, Settings: Settings{
		Provider: g.cfg.Provider, Size: g.cfg.Size, Concurrency: g.cfg.Concurrency, Rate: g.cfg.Rate,
		Duration: g.cfg.Duration.String(), Warmup: g.cfg.Warmup.String(),
	}}
	g.rec.report(p, g.clk.Now())
	p.Planned, p.Unsent = g.sched.Planned(), g.sched.Unsent()
	p.Interrupted = ctx.Err() != nil
	return p
}

// send posts message number seq, due at due, and records the answer.
func (g *ingester) send(ctx context.Context, due time.Time) {
	n := g.seq.Add(1)
	id := eventID(g.run, n)
	body := buildBody(g.cfg.Size, id, due)
	url := g.url
	if g.cfg.Queues > 1 {
		src, _ := g.cfg.names(n)
		url = base(g.cfg.URL) + "/hooks/" + src
	}
	err := g.post(ctx, url, body, id)
	done := g.clk.Now()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		g.log.Debug("ingest failed", "event", id, "err", err)
		g.rec.Error(due, done, errorKind(err))
		return
	}
	g.rec.Latency(opPost, due, done)
	g.rec.Messages(due, done, 1)
}

func (g *ingester) post(ctx context.Context, url string, body []byte, id string) error {
	hdr, err := g.sign.sign(body, time.Now(), id)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	req.Header = hdr
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted:
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	case http.StatusOK:
		var out struct {
			Duplicate bool `json:"duplicate"`
		}
		if json.NewDecoder(resp.Body).Decode(&out) == nil && out.Duplicate {
			return errDuplicate
		}
		return &statusError{Status: resp.StatusCode, Code: "unexpected"}
	}
	return readStatusError(resp)
}

// RunIngest posts signed webhooks to <URL>/hooks/<Source> for
// cfg.Warmup+cfg.Duration, with live progress, and reports the measured
// part. An interrupted run (ctx ended) still reports what it did.
func RunIngest(ctx context.Context, cfg IngestConfig) (*PhaseReport, error) {
	start := time.Now()
	g, err := newIngester(cfg, realClock{}, start)
	if err != nil {
		return nil, err
	}
	stop := startProgress(cfg.Progress, start, progressLine{"ingest", g.rec})
	p := g.runWorkers(ctx)
	stop()
	return p, nil
}
