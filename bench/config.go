package bench

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/hookq/hookq/ingest"
)

// Target is the node a run talks to and the names it uses there.
type Target struct {
	URL    string // base URL of a node, e.g. http://127.0.0.1:8080
	Token  string // bearer for /v1: consume:<queue> (or admin) to consume, admin for Setup
	Source string // ingest posts to URL/hooks/<Source>
	Queue  string // consumers read this queue
	// Queues > 1 spreads the load over that many queues, each fed by its
	// own source: <Source>-0 → <Queue>-0 … (bench cluster --queues).
	// Ingest posts to the sources in turn; REST consumers lease from the
	// queues in turn, without waiting on an empty one.
	Queues int
}

// MaxQueues bounds --queues.
const MaxQueues = 10000

// names are the i-th source and queue of t.
func (t *Target) names(i int64) (source, queue string) {
	if t.Queues <= 1 {
		return t.Source, t.Queue
	}
	n := strconv.FormatInt(i%int64(t.Queues), 10)
	return t.Source + "-" + n, t.Queue + "-" + n
}

// IngestConfig is one ingest phase.
type IngestConfig struct {
	Target
	Provider    string        // standard | stripe | github | none
	Secret      string        // the source's secret (not needed for none)
	Size        int           // body bytes
	Concurrency int           // connections (workers)
	Rate        float64       // requests/s across all workers (open loop); 0 = closed loop
	Duration    time.Duration // measured part
	Warmup      time.Duration // sent first, not measured
	Progress    io.Writer     // one line per second; nil = none
	Logger      *slog.Logger  // nil = discard
}

// Consume modes.
const (
	ModeREST = "rest"
	ModeSSE  = "sse"
	ModeGRPC = "grpc"
)

// ConsumeConfig is one consume phase.
type ConsumeConfig struct {
	Target
	Mode        string        // rest | sse | grpc
	GRPCAddr    string        // grpc: the node's --grpc-addr (host:port)
	Batch       int           // rest: lease max; both: most deliveries per settle call
	Concurrency int           // rest: workers; sse: streams
	MaxInFlight int           // sse: maxInFlight of each stream; grpc: its credits
	Duration    time.Duration // the phase ends after Warmup+Duration at the latest
	Warmup      time.Duration // consumed first, not measured
	Count       int64         // > 0: stop once this many messages are settled
	Drain       bool          // stop once a lease (rest) finds the queue empty
	Progress    io.Writer
	Logger      *slog.Logger
}

// Providers Sign can produce for the load generator.
var providers = map[string]bool{
	ingest.TypeStandard: true, ingest.TypeStripe: true, ingest.TypeGitHub: true, ingest.TypeNone: true,
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
}

func (t *Target) validate(needToken bool) error {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("--url %q: want http(s)://host:port", t.URL)
	}
	if !ingest.ValidName(t.Source) {
		return invalid("--source %q is not a valid name", t.Source)
	}
	if !ingest.ValidName(t.Queue) {
		return invalid("--queue %q is not a valid name", t.Queue)
	}
	if t.Queues < 0 || t.Queues > MaxQueues {
		return invalid("--queues %d: want 1…%d", t.Queues, MaxQueues)
	}
	if needToken && t.Token == "" {
		return invalid("--token is required (consume:<queue> or admin)")
	}
	return nil
}

func (c *IngestConfig) validate() error {
	if err := c.Target.validate(false); err != nil {
		return err
	}
	switch {
	case !providers[c.Provider]:
		return invalid("--provider %q: want standard, stripe, github or none", c.Provider)
	case c.Provider != ingest.TypeNone && c.Secret == "":
		return invalid("--secret is required for --provider %s (or use --setup)", c.Provider)
	case c.Size < minBodySize:
		return invalid("--size %d: at least %d bytes (the body carries an event id and its send time)", c.Size, minBodySize)
	case c.Size > ingest.MaxMaxBodyBytes:
		return invalid("--size %d: at most %d", c.Size, ingest.MaxMaxBodyBytes)
	case c.Concurrency < 1:
		return invalid("--concurrency must be at least 1")
	case c.Rate < 0:
		return invalid("--rate must not be negative")
	case c.Duration <= 0:
		return invalid("--duration must be positive")
	case c.Warmup < 0:
		return invalid("--warmup must not be negative")
	}
	if _, err := newSigner(c.Provider, c.Secret); err != nil {
		return invalid("--secret: %v", err)
	}
	return nil
}

func (c *ConsumeConfig) validate() error {
	switch c.Mode {
	case ModeREST, ModeSSE:
	case ModeGRPC:
		if c.GRPCAddr == "" {
			return invalid("--grpc-addr is required with --mode grpc")
		}
	default:
		return invalid("--mode %q: want rest, sse or grpc", c.Mode)
	}
	if err := c.Target.validate(true); err != nil {
		return err
	}
	if c.Queues > 1 && c.Mode != ModeREST {
		return invalid("--queues %d: only --mode rest consumes from many queues", c.Queues)
	}
	switch {
	case c.Batch < 1 || c.Batch > 1000:
		return invalid("--batch %d: want 1..1000", c.Batch)
	case c.Concurrency < 1:
		return invalid("--concurrency must be at least 1")
	case c.Mode != ModeREST && (c.MaxInFlight < 1 || c.MaxInFlight > 1000):
		return invalid("--max-in-flight %d: want 1..1000", c.MaxInFlight)
	case c.Duration <= 0:
		return invalid("--duration must be positive")
	case c.Warmup < 0:
		return invalid("--warmup must not be negative")
	case c.Count < 0:
		return invalid("--count must not be negative")
	case c.Drain && c.Mode != ModeREST:
		return invalid("--drain works with --mode rest only")
	}
	return nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
