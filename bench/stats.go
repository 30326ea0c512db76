package bench

import (
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range, as in liftbridge's bench/common/stats.go: 1 µs to 60 s
// at 3 significant figures. Longer latencies are recorded as 60 s and
// counted as clamped.
const (
	histMinUs   = 1
	histMaxUs   = 60_000_000
	histSigFigs = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMinUs, histMaxUs, histSigFigs) }

type opHist struct {
	total, interval *hdrhistogram.Histogram
}

// Recorder collects one phase's outcomes. An outcome belongs to the
// measured part when its operation was due at or after the recorder's
// start (the end of the warmup); earlier ones are counted as warmup and
// leave the histograms alone. Latency is always done minus due: in an open
// loop, due is when the request should have gone out, so time spent
// waiting behind a slow server counts (no coordinated omission). Safe for
// concurrent use.
type Recorder struct {
	mu      sync.Mutex
	start   time.Time
	order   []string
	ops     map[string]*opHist
	msgs    int64 // measured messages
	warm    int64 // warmup messages
	errs    int64 // measured errors
	warmErr int64 // warmup errors
	kinds   map[string]int64
	clamped int64
	last    time.Time // latest measured completion
	// since the last tick
	iMsgs, iErrs int64
}

// NewRecorder starts a recorder whose measured part begins at start, with
// one latency histogram per op name (in the order given: tables list them
// so).
func NewRecorder(start time.Time, ops ...string) *Recorder {
	r := &Recorder{start: start, ops: map[string]*opHist{}, kinds: map[string]int64{}}
	for _, op := range ops {
		r.order = append(r.order, op)
		r.ops[op] = &opHist{total: newHist(), interval: newHist()}
	}
	return r
}

// Start is when the measured part begins.
func (r *Recorder) Start() time.Time { return r.start }

func toMicros(d time.Duration) (v int64, clamped bool) {
	us := d.Microseconds()
	switch {
	case us < histMinUs:
		return histMinUs, false
	case us > histMaxUs:
		return histMaxUs, true
	}
	return us, false
}

// Latency records done-due for op, if due is in the measured part.
func (r *Recorder) Latency(op string, due, done time.Time) {
	if due.Before(r.start) {
		return
	}
	v, clamped := toMicros(done.Sub(due))
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.ops[op]
	if h == nil {
		h = &opHist{total: newHist(), interval: newHist()}
		r.ops[op] = h
		r.order = append(r.order, op)
	}
	// v is within the histogram's range, so recording cannot fail.
	_ = h.total.RecordValue(v)
	_ = h.interval.RecordValue(v)
	if clamped {
		r.clamped++
	}
}

// Messages counts n messages completed at done by an operation due at due.
func (r *Recorder) Messages(due, done time.Time, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.iMsgs += n
	if due.Before(r.start) {
		r.warm += n
		return
	}
	r.msgs += n
	if done.After(r.last) {
		r.last = done
	}
}

// Error counts one failed operation of the given kind (a status and error
// code, "transport", …).
func (r *Recorder) Error(due, done time.Time, kind string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.iErrs++
	r.kinds[kind]++
	if due.Before(r.start) {
		r.warmErr++
		return
	}
	r.errs++
	if done.After(r.last) {
		r.last = done
	}
}

// Total is every message counted so far, warmup included.
func (r *Recorder) Total() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msgs + r.warm
}

// Interval is what happened since the previous tick.
type Interval struct {
	Msgs, Errs int64
	P99Us      []OpValue // per op, in the recorder's order; ops with no sample are left out
}

// OpValue is one op's value in microseconds.
type OpValue struct {
	Op string
	Us int64
}

// tick returns the interval since the last tick and starts a new one.
func (r *Recorder) tick() Interval {
	r.mu.Lock()
	defer r.mu.Unlock()
	iv := Interval{Msgs: r.iMsgs, Errs: r.iErrs}
	r.iMsgs, r.iErrs = 0, 0
	for _, op := range r.order {
		h := r.ops[op].interval
		if h.TotalCount() > 0 {
			iv.P99Us = append(iv.P99Us, OpValue{op, h.ValueAtQuantile(99)})
		}
		h.Reset()
	}
	return iv
}

// LatencySummary is one op's latency distribution, in microseconds.
type LatencySummary struct {
	Op     string  `json:"op"`
	Count  int64   `json:"count"`
	MeanUs float64 `json:"mean_us"`
	P50Us  int64   `json:"p50_us"`
	P90Us  int64   `json:"p90_us"`
	P99Us  int64   `json:"p99_us"`
	P999Us int64   `json:"p99_9_us"`
	MaxUs  int64   `json:"max_us"`
}

func summarize(op string, h *hdrhistogram.Histogram) LatencySummary {
	s := LatencySummary{Op: op, Count: h.TotalCount()}
	if s.Count == 0 {
		return s
	}
	s.MeanUs = math.Round(h.Mean()*10) / 10
	s.P50Us = h.ValueAtQuantile(50)
	s.P90Us = h.ValueAtQuantile(90)
	s.P99Us = h.ValueAtQuantile(99)
	s.P999Us = h.ValueAtQuantile(99.9)
	s.MaxUs = h.Max()
	return s
}

// report fills the counts, rate and latencies of p. stop is when the phase
// ended; the measured time runs from the recorder's start to its latest
// measured completion, or to stop if nothing completed.
func (r *Recorder) report(p *PhaseReport, stop time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.Messages, p.WarmupMessages = r.msgs, r.warm
	p.Errors, p.WarmupErrors = r.errs, r.warmErr
	if len(r.kinds) > 0 {
		p.ErrorKinds = map[string]int64{}
		for k, v := range r.kinds {
			p.ErrorKinds[k] = v
		}
	}
	p.ClampedSamples = r.clamped
	end := stop
	if !r.last.IsZero() {
		end = r.last
	}
	p.Seconds = max(end.Sub(r.start).Seconds(), 0)
	p.MsgsPerS = rate(p.Messages, p.Seconds)
	p.Latency = p.Latency[:0]
	for _, op := range r.order {
		p.Latency = append(p.Latency, summarize(op, r.ops[op].total))
	}
}

// rate is n per second over secs, rounded to 0.1; 0 when secs is not positive.
func rate(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return math.Round(float64(n)/secs*10) / 10
}
