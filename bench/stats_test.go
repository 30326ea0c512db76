package bench

import (
	"math"
	"testing"
	"time"
)

func within(got, want int64, rel float64) bool {
	return math.Abs(float64(got-want)) <= rel*float64(want)
}

// Percentiles of known distributions, within HDR's 3 significant figures.
func TestRecorderPercentiles(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		samples                        func(rec func(time.Duration))
		count                          int64
		p50, p90, p99, p999, maxv, min int64 // µs
	}{
		{
			name: "uniform 1..1000 ms",
			samples: func(rec func(time.Duration)) {
				for i := 1; i <= 1000; i++ {
					rec(time.Duration(i) * time.Millisecond)
				}
			},
			count: 1000, p50: 500_000, p90: 900_000, p99: 990_000, p999: 999_000, maxv: 1_000_000,
		},
		{
			name: "one slow outlier in 1000 shows at p99.9 and max only",
			samples: func(rec func(time.Duration)) {
				for range 999 {
					rec(2 * time.Millisecond)
				}
				rec(3 * time.Second)
			},
			count: 1000, p50: 2000, p90: 2000, p99: 2000, p999: 2000, maxv: 3_000_000,
		},
		{
			name: "sub-microsecond and over-range latencies are clamped to 1 µs and 60 s",
			samples: func(rec func(time.Duration)) {
				rec(200 * time.Nanosecond)
				rec(2 * time.Minute)
			},
			count: 2, p50: 1, p90: histMaxUs, p99: histMaxUs, p999: histMaxUs, maxv: histMaxUs,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRecorder(t0, opPost)
			tc.samples(func(d time.Duration) { r.Latency(opPost, t0, t0.Add(d)) })
			var p PhaseReport
			r.report(&p, t0.Add(time.Second))
			l := p.Latency[0]
			if l.Op != opPost || l.Count != tc.count {
				t.Fatalf("op %q count %d, want %q %d", l.Op, l.Count, opPost, tc.count)
			}
			for _, c := range []struct {
				name      string
				got, want int64
			}{{"p50", l.P50Us, tc.p50}, {"p90", l.P90Us, tc.p90}, {"p99", l.P99Us, tc.p99}, {"p99.9", l.P999Us, tc.p999}, {"max", l.MaxUs, tc.maxv}} {
				if !within(c.got, c.want, 0.001) {
					t.Errorf("%s = %d µs, want %d ±0.1%%", c.name, c.got, c.want)
				}
			}
		})
	}
}

// What a report counts: warmup apart, errors by kind, and a rate over the
// measured time (start to the last measured completion).
func TestRecorderCountsAndRate(t *testing.T) {
	start := t0.Add(2 * time.Second) // the warmup is t0..t0+2s
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, tc := range []struct {
		name                             string
		events                           func(r *Recorder)
		stop                             time.Time
		msgs, warm, errs, warmErrs, hist int64
		seconds, rate                    float64
		kinds                            map[string]int64
	}{
		{
			name: "warmup messages are counted apart and leave the histogram alone",
			events: func(r *Recorder) {
				for i := range 10 {
					due := at(1.5 + float64(i)*0.1) // 1.5s .. 2.4s: 5 warmup, 5 measured
					r.Latency(opPost, due, due.Add(time.Millisecond))
					r.Messages(due, due.Add(time.Millisecond), 1)
				}
			},
			stop: at(3), msgs: 5, warm: 5, hist: 5,
			seconds: 0.401, rate: 12.5, // 5 / (2.401 - 2.0)
		},
		{
			name: "a message due in the warmup but done after it is still warmup",
			events: func(r *Recorder) {
				r.Messages(at(1.9), at(2.5), 1)
				r.Messages(at(2.0), at(4.0), 3)
			},
			stop: at(5), msgs: 3, warm: 1, seconds: 2, rate: 1.5,
		},
		{
			name: "errors are counted by kind (warmup included in kinds), and end the measured time too",
			events: func(r *Recorder) {
				r.Error(at(1), at(1), "503 queue_full")
				r.Error(at(3), at(3), "503 queue_full")
				r.Error(at(3), at(6), "transport")
				r.Messages(at(3), at(4), 8)
			},
			stop: at(7), msgs: 8, errs: 2, warmErrs: 1, seconds: 4, rate: 2,
			kinds: map[string]int64{"503 queue_full": 2, "transport": 1},
		},
		{
			name:   "nothing measured: the time runs to the stop and the rate is 0",
			events: func(r *Recorder) {},
			stop:   at(4), seconds: 2, rate: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRecorder(start, opPost)
			tc.events(r)
			var p PhaseReport
			r.report(&p, tc.stop)
			if p.Messages != tc.msgs || p.WarmupMessages != tc.warm || p.Errors != tc.errs || p.WarmupErrors != tc.warmErrs {
				t.Errorf("messages %d warmup %d errors %d warmup errors %d, want %d %d %d %d",
					p.Messages, p.WarmupMessages, p.Errors, p.WarmupErrors, tc.msgs, tc.warm, tc.errs, tc.warmErrs)
			}
			if p.Latency[0].Count != tc.hist {
				t.Errorf("histogram count %d, want %d", p.Latency[0].Count, tc.hist)
			}
			if math.Abs(p.Seconds-tc.seconds) > 1e-9 || p.MsgsPerS != tc.rate {
				t.Errorf("seconds %v rate %v, want %v %v", p.Seconds, p.MsgsPerS, tc.seconds, tc.rate)
			}
			if len(p.ErrorKinds) != len(tc.kinds) {
				t.Errorf("error kinds %v, want %v", p.ErrorKinds, tc.kinds)
			}
			for k, v := range tc.kinds {
				if p.ErrorKinds[k] != v {
					t.Errorf("error kinds %v, want %v", p.ErrorKinds, tc.kinds)
				}
			}
			if r.Total() != tc.msgs+tc.warm || p.Total() != tc.msgs+tc.warm {
				t.Errorf("Total %d / %d, want %d", r.Total(), p.Total(), tc.msgs+tc.warm)
			}
		})
	}
}

// The live progress reads and resets the last second's numbers.
func TestRecorderTickResetsInterval(t *testing.T) {
	r := NewRecorder(t0, opLease, opSettle)
	r.Latency(opSettle, t0, t0.Add(5*time.Millisecond))
	r.Messages(t0, t0, 7)
	r.Error(t0, t0, "transport")
	iv := r.tick()
	if iv.Msgs != 7 || iv.Errs != 1 || len(iv.P99Us) != 1 || iv.P99Us[0].Op != opSettle || !within(iv.P99Us[0].Us, 5000, 0.001) {
		t.Fatalf("first tick = %+v", iv)
	}
	if iv := r.tick(); iv.Msgs != 0 || iv.Errs != 0 || len(iv.P99Us) != 0 {
		t.Fatalf("second tick = %+v, want empty", iv)
	}
	var p PhaseReport
	r.report(&p, t0)
	if p.Latency[1].Count != 1 || p.Messages != 7 {
		t.Fatalf("the totals lost samples to the tick: %+v", p)
	}
}

func TestUsPerAndRate(t *testing.T) {
	for _, tc := range []struct {
		secs float64
		msgs int64
		want float64
	}{
		{1.5, 2000, 750}, {0.01, 3, 3333.3}, {2, 0, 0},
	} {
		if got := usPer(tc.secs, tc.msgs); got != tc.want {
			t.Errorf("usPer(%v, %d) = %v, want %v", tc.secs, tc.msgs, got, tc.want)
		}
	}
	if got := rate(10, 0); got != 0 {
		t.Errorf("rate over 0 s = %v", got)
	}
	if got := thousands(1234567.6); got != "1,234,568" {
		t.Errorf("thousands = %q", got)
	}
}
