package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hookq/hookq/bench"
	"github.com/hookq/hookq/ingest"
)

const benchUsage = `Usage:
  hookq bench ingest  [flags]   post signed webhooks to a node's /hooks/<source>
  hookq bench consume [flags]   consume a queue: --mode rest (batch lease + settle), sse or grpc
  hookq bench e2e     [flags]   ingest and consume at once, with end-to-end latency
  hookq bench cluster [flags]   start a local 3-node cluster, ingest then consume,
                                with each node's CPU time per message
  hookq bench compare --hookq FILE [--anchor FILE]
                                hookq's cluster results next to the JetStream anchor's

Progress goes to stderr each second, the final table to stdout; --json FILE
writes the same numbers. Run "hookq bench <mode> -h" for a mode's flags.
`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, benchUsage)
		return errUsage
	}
	switch args[0] {
	case "ingest":
		return benchIngest(ctx, args[1:], stdout, stderr)
	case "consume":
		return benchConsume(ctx, args[1:], stdout, stderr)
	case "e2e":
		return benchE2E(ctx, args[1:], stdout, stderr)
	case "cluster":
		return benchCluster(ctx, args[1:], stdout, stderr)
	case "compare":
		return benchCompare(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, benchUsage)
		return nil
	}
	fmt.Fprint(stderr, benchUsage)
	return fmt.Errorf("bench: unknown mode %q", args[0])
}

// benchOutput is the flags every mode shares: where results go.
type benchOutput struct {
	json     string
	quiet    bool
	logLevel string
}

func (o *benchOutput) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.json, "json", "", "also write the results as JSON to this file")
	fs.BoolVar(&o.quiet, "quiet", false, "no live progress on stderr")
	fs.StringVar(&o.logLevel, "log-level", "warn", "debug | info | warn | error (debug logs every failed request)")
}

// parse parses a bench subcommand's flags and environment and returns the
// logger they ask for.
func (o *benchOutput) parse(fs *flag.FlagSet, args []string, stderr io.Writer) (*slog.Logger, error) {
	if err := parseBench(fs, args); err != nil {
		return nil, err
	}
	return newLogger(o.logLevel, stderr)
}

func (o *benchOutput) progress(stderr io.Writer) io.Writer {
	if o.quiet {
		return nil
	}
	return stderr
}

// finish prints r's table and writes its JSON file.
func (o *benchOutput) finish(r *bench.Report, stdout io.Writer) error {
	if err := r.WriteTable(stdout); err != nil {
		return err
	}
	if o.json != "" {
		return r.WriteJSON(o.json)
	}
	return nil
}

func targetFlags(fs *flag.FlagSet, t *bench.Target) {
	fs.StringVar(&t.URL, "url", "http://127.0.0.1:8080", "base URL of a hookq node")
	fs.StringVar(&t.Token, "token", "", "bearer token: consume:<queue> (or admin) to consume, admin for --setup")
	fs.StringVar(&t.Source, "source", "bench", "source to post to (/hooks/<source>)")
	fs.StringVar(&t.Queue, "queue", "bench", "queue to consume")
}

// ingestFlags registers the ingest knobs; cluster mode has no --secret.
func ingestFlags(fs *flag.FlagSet, c *bench.IngestConfig, secret bool) {
	fs.StringVar(&c.Provider, "provider", ingest.TypeStandard, "signature of every request: standard | stripe | github | none")
	if secret {
		fs.StringVar(&c.Secret, "secret", "", "the source's secret (with --setup: default a fresh one)")
	}
	fs.IntVar(&c.Size, "size", 1024, "body bytes")
	fs.IntVar(&c.Concurrency, "concurrency", 64, "ingest connections")
	fs.Float64Var(&c.Rate, "rate", 0, "requests per second in all, open loop (latency from each request's intended send time); 0 = closed loop, as fast as answers come")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured time")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "time before the measured part, not measured")
}

// consumeFlags registers the consumer knobs; workers names the flag for
// the number of workers (--concurrency in consume mode, --consumers where
// --concurrency means ingest connections).
func consumeFlags(fs *flag.FlagSet, c *bench.ConsumeConfig, workers string) {
	fs.StringVar(&c.Mode, "mode", bench.ModeREST, "rest (batch lease + batch settle) | sse (stream + batch settle over REST) | grpc (Consume stream + batch Settle RPC)")
	fs.IntVar(&c.Batch, "batch", 100, "rest: messages per lease; all modes: most deliveries per settle call")
	fs.IntVar(&c.Concurrency, workers, 4, "consumer workers (rest) or streams (sse, grpc)")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", 100, "sse: maxInFlight of each stream; grpc: the credits of each stream")
}

// parseBench parses args into fs, then the environment (HOOKQ_<FLAG>),
// and refuses positional arguments.
func parseBench(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench %s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return applyEnv(fs)
}

// setupTarget creates the queue and source for --setup, with a fresh
// secret unless one was given.
func setupTarget(ctx context.Context, c *bench.IngestConfig) error {
	if c.Secret == "" {
		c.Secret = bench.NewSecret(c.Provider)
	}
	return bench.Setup(ctx, c.Target, c.Provider, c.Secret)
}

func benchIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c bench.IngestConfig
	var out benchOutput
	var setup bool
	targetFlags(fs, &c.Target)
	ingestFlags(fs, &c, true)
	fs.BoolVar(&setup, "setup", false, "first create (or replace) --queue and --source, verified as --provider, with the admin --token")
	out.flags(fs)
	log, err := out.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	c.Progress, c.Logger = out.progress(stderr), log
	if setup {
		if err := setupTarget(ctx, &c); err != nil {
			return err
		}
	}
	p, err := bench.RunIngest(ctx, c)
	if err != nil {
		return err
	}
	r := bench.NewReport("ingest", p)
	return out.finish(r, stdout)
}

func benchConsume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("consume", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c bench.ConsumeConfig
	var out benchOutput
	targetFlags(fs, &c.Target)
	consumeFlags(fs, &c, "concurrency")
	fs.StringVar(&c.GRPCAddr, "grpc-addr", "127.0.0.1:9090", "--mode grpc: the node's gRPC address (host:port)")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured time (the run may end sooner: --count, --drain)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "time before the measured part, not measured")
	fs.Int64Var(&c.Count, "count", 0, "stop once this many messages are settled (0: no count)")
	fs.BoolVar(&c.Drain, "drain", false, "rest: stop once a lease finds the queue empty (after waiting 1s)")
	out.flags(fs)
	log, err := out.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	c.Progress, c.Logger = out.progress(stderr), log
	p, err := bench.RunConsume(ctx, c)
	if p == nil {
		return err
	}
	r := bench.NewReport("consume", p)
	return errors.Join(out.finish(r, stdout), err)
}

func benchE2E(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("e2e", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c bench.E2EConfig
	var out benchOutput
	var setup bool
	targetFlags(fs, &c.Ingest.Target)
	ingestFlags(fs, &c.Ingest, true)
	consumeFlags(fs, &c.Consume, "consumers")
	fs.StringVar(&c.Consume.GRPCAddr, "grpc-addr", "127.0.0.1:9090", "--mode grpc: the node's gRPC address (host:port)")
	fs.DurationVar(&c.Drain, "drain-timeout", 0, "after ingest ends, how long consumers may take to settle what it sent (default max(--duration, 10s))")
	fs.BoolVar(&setup, "setup", false, "first create (or replace) --queue and --source, verified as --provider, with the admin --token")
	out.flags(fs)
	log, err := out.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	c.Consume.Target = c.Ingest.Target
	c.Progress, c.Ingest.Logger, c.Consume.Logger = out.progress(stderr), log, log
	if setup {
		if err := setupTarget(ctx, &c.Ingest); err != nil {
			return err
		}
	}
	in, cons, err := bench.RunE2E(ctx, c)
	if err != nil {
		return err
	}
	r := bench.NewReport("e2e", in, cons)
	return out.finish(r, stdout)
}

func benchCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c bench.ClusterConfig
	var out benchOutput
	ingestFlags(fs, &c.Ingest, false)
	consumeFlags(fs, &c.Consume, "consumers")
	fs.DurationVar(&c.Consume.Duration, "consume-timeout", 0, "most time the consume phase may take to settle everything ingested (default max(3×--duration, 60s))")
	fs.StringVar(&c.Via, "via", "leader", "leader | follower: the node the clients talk to")
	fs.BoolVar(&c.Keep, "keep", false, "keep the nodes' data dirs and logs (the path is logged)")
	fs.StringVar(&c.Binary, "binary", "", "hookq binary to start (default: this one)")
	fs.BoolVar(&c.HalfRate, "half-rate", false, "after the ingest phase, run one more in open loop at half the rate it reached (latency with headroom); consume then drains both")
	fs.IntVar(&c.Queues, "queues", 1, "spread the load over this many queues (1…10000), each fed by its own source; consumers lease from them in turn (rest mode)")
	fs.StringVar(&c.ProfileDir, "profile-dir", "", "start the nodes with --pprof-addr and save CPU profiles of the leader and a follower for each phase here (ingest.pprof, ingest-follower.pprof, consume.pprof, consume-follower.pprof)")
	fs.DurationVar(&c.ProfileConsume, "profile-consume", 5*time.Second, "with --profile-dir: how long to profile the consume phase from its start")
	out.flags(fs)
	log, err := out.parse(fs, args, stderr)
	if err != nil {
		return err
	}
	if c.Binary == "" {
		if c.Binary, err = os.Executable(); err != nil {
			return fmt.Errorf("bench cluster: %w", err)
		}
	}
	if c.Consume.Duration == 0 {
		c.Consume.Duration = max(3*c.Ingest.Duration, time.Minute)
	}
	c.Progress, c.Logger = out.progress(stderr), log
	r, err := bench.RunCluster(ctx, c)
	if r == nil {
		return err
	}
	return errors.Join(out.finish(r, stdout), err)
}

func benchCompare(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var hookqFile, anchorFile string
	fs.StringVar(&hookqFile, "hookq", "", "--json file of hookq bench cluster (required)")
	fs.StringVar(&anchorFile, "anchor", "", "-json file of ../shared/anchors/jetstream-bench (missing or empty: the anchor is shown as skipped)")
	if err := parseBench(fs, args); err != nil {
		return err
	}
	if hookqFile == "" {
		return errors.New("bench compare: --hookq is required")
	}
	h, err := bench.ReadReport(hookqFile)
	if err != nil {
		return fmt.Errorf("bench compare: %w", err)
	}
	var a *bench.AnchorReport
	why := "no -json file given"
	if anchorFile != "" {
		if _, err := os.Stat(anchorFile); err != nil {
			why = "no result file (" + anchorFile + "): the anchor was not run or failed"
		} else if a, err = bench.ReadAnchor(anchorFile); err != nil {
			return fmt.Errorf("bench compare: %w", err)
		}
	}
	return bench.Compare(stdout, h, a, why)
}
