package bench

import (
	"context"
	"testing"
	"time"
)

// fakeClock moves only when a sleep or a send moves it.
type fakeClock struct{ now time.Time }

func (f *fakeClock) Now() time.Time { return f.now }

func (f *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	if t.After(f.now) {
		f.now = t
	}
	return ctx.Err()
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func msList(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

// One worker against a server that answers every request after service:
// the latencies it records, measured from each send's due time, and how
// many sends it never made.
func TestScheduleLatencyFromDueTime(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rate       float64
		service    time.Duration
		run        time.Duration
		wantLat    []time.Duration
		wantDue    []time.Duration // offsets from t0
		wantUnsent int64
	}{
		{
			name: "open loop, server keeps up: latency is the service time",
			rate: 100, service: 2 * time.Millisecond, run: 50 * time.Millisecond,
			wantLat:    msList(2, 2, 2, 2, 2),
			wantDue:    msList(0, 10, 20, 30, 40),
			wantUnsent: 0,
		},
		{
			// Each answer takes 25 ms but a send is due every 10 ms: the
			// n-th send goes out 15 ms later than the one before it
			// relative to its due time, and that wait is latency.
			name: "open loop, server too slow: waiting behind slow answers counts",
			rate: 100, service: 25 * time.Millisecond, run: 100 * time.Millisecond,
			wantLat:    msList(25, 40, 55, 70),
			wantDue:    msList(0, 10, 20, 30),
			wantUnsent: 6, // due at 40..90 ms; the clock reached the end first
		},
		{
			name: "closed loop: a send is due when the previous answer came",
			rate: 0, service: 25 * time.Millisecond, run: 100 * time.Millisecond,
			wantLat:    msList(25, 25, 25, 25),
			wantDue:    msList(0, 25, 50, 75),
			wantUnsent: 0,
		},
		{
			name: "open loop, fractional interval: due times do not drift",
			rate: 3, service: time.Millisecond, run: time.Second,
			wantLat:    msList(1, 1, 1),
			wantDue:    []time.Duration{0, 333333333, 666666666},
			wantUnsent: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: t0}
			s := newSchedule(clk, t0, t0.Add(tc.run), tc.rate)
			var lat, due []time.Duration
			drive(context.Background(), s, func(d time.Time) {
				clk.now = clk.now.Add(tc.service)
				lat = append(lat, clk.now.Sub(d))
				due = append(due, d.Sub(t0))
			})
			if !equalDurations(lat, tc.wantLat) {
				t.Errorf("latencies = %v, want %v", lat, tc.wantLat)
			}
			if !equalDurations(due, tc.wantDue) {
				t.Errorf("due offsets = %v, want %v", due, tc.wantDue)
			}
			if got := s.Unsent(); got != tc.wantUnsent {
				t.Errorf("Unsent = %d, want %d", got, tc.wantUnsent)
			}
			if got := s.Issued(); got != int64(len(tc.wantDue)) {
				t.Errorf("Issued = %d, want %d", got, len(tc.wantDue))
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Many workers share one open-loop schedule: together they get each due
// time exactly once, in order, whoever asks.
func TestScheduleHandsOutEachDueTimeOnce(t *testing.T) {
	clk := &fakeClock{now: t0}
	s := newSchedule(clk, t0, t0.Add(time.Second), 1000)
	for i := range 1000 {
		due, ok := s.Next()
		if !ok {
			t.Fatalf("schedule over after %d sends, want 1000", i)
		}
		if want := t0.Add(time.Duration(i) * time.Millisecond); !due.Equal(want) {
			t.Fatalf("send %d due %v, want %v", i, due.Sub(t0), want.Sub(t0))
		}
	}
	if _, ok := s.Next(); ok {
		t.Fatal("a send due at the end was handed out")
	}
	if s.Planned() != 1000 || s.Unsent() != 0 {
		t.Fatalf("Planned %d Unsent %d, want 1000 and 0", s.Planned(), s.Unsent())
	}
}

func TestDriveStopsWhenContextEnds(t *testing.T) {
	clk := &fakeClock{now: t0}
	s := newSchedule(clk, t0, t0.Add(time.Hour), 0)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	drive(ctx, s, func(time.Time) {
		n++
		clk.now = clk.now.Add(time.Millisecond)
		if n == 3 {
			cancel()
		}
	})
	if n != 3 {
		t.Fatalf("sends = %d, want 3", n)
	}
}
