package bench

import (
	"context"
	"math"
	"sync/atomic"
	"time"
)

// clock is time as the load loops see it; tests drive a fake one.
type clock interface {
	Now() time.Time
	// SleepUntil returns at t (at once if t has passed), or with ctx's
	// error when ctx ends first.
	SleepUntil(ctx context.Context, t time.Time) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// Schedule says when each send is due.
//
// Open loop (rate > 0): the i-th send (from 0) is due at start + i/rate,
// however late the worker that takes it is, so a slow answer delays the
// sends behind it and their latency, measured from the due time, shows it
// (no coordinated omission). The run is over once the next due time
// reaches end, or once the clock does: sends that were due before end but
// never went out are counted by Unsent.
//
// Closed loop (rate 0): a send is due when a worker asks, until end.
//
// Safe for concurrent use by any number of workers.
type Schedule struct {
	clk    clock
	start  time.Time
	end    time.Time
	every  float64 // nanoseconds between sends; 0 = closed loop
	next   atomic.Int64
	issued atomic.Int64
}

func newSchedule(clk clock, start, end time.Time, rate float64) *Schedule {
	s := &Schedule{clk: clk, start: start, end: end}
	if rate > 0 {
		s.every = 1e9 / rate
	}
	return s
}

// Next returns when the caller's next send is due, or false when the run
// is over.
func (s *Schedule) Next() (time.Time, bool) {
	now := s.clk.Now()
	if !now.Before(s.end) {
		return time.Time{}, false
	}
	if s.every == 0 {
		s.issued.Add(1)
		return now, true
	}
	i := s.next.Add(1) - 1
	due := s.start.Add(time.Duration(float64(i) * s.every))
	if !due.Before(s.end) {
		return time.Time{}, false
	}
	s.issued.Add(1)
	return due, true
}

// Issued is how many sends Next has handed out.
func (s *Schedule) Issued() int64 { return s.issued.Load() }

// Planned is how many sends an open loop has due before end (0 for a
// closed loop).
func (s *Schedule) Planned() int64 {
	if s.every == 0 {
		return 0
	}
	return int64(math.Ceil(float64(s.end.Sub(s.start)) / s.every))
}

// Unsent is how many sends were due before end but never handed out
// because the run ended first: the generator could not keep the rate.
func (s *Schedule) Unsent() int64 {
	return max(s.Planned()-s.Issued(), 0)
}

// drive makes sends as s says, one at a time, until s is over or ctx ends.
func drive(ctx context.Context, s *Schedule, send func(due time.Time)) {
	for ctx.Err() == nil {
		due, ok := s.Next()
		if !ok {
			return
		}
		if s.clk.SleepUntil(ctx, due) != nil {
			return
		}
		send(due)
	}
}
