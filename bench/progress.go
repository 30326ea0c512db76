package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressLine is one recorder shown in the live progress.
type progressLine struct {
	label string
	rec   *Recorder
}

// startProgress writes one line a second to w (nothing when w is nil):
// for each recorder, messages per second, errors and each op's p99 over
// the last second. The returned func stops it and waits.
func startProgress(w io.Writer, start time.Time, lines ...progressLine) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		last := start
		for {
			select {
			case <-done:
				return
			case now := <-tk.C:
				fmt.Fprintln(w, progressText(now, start, last, lines))
				last = now
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func progressText(now, start, last time.Time, lines []progressLine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%4.0fs]", now.Sub(start).Seconds())
	secs := now.Sub(last).Seconds()
	for i, l := range lines {
		if i > 0 {
			b.WriteString(" |")
		}
		iv := l.rec.tick()
		fmt.Fprintf(&b, " %s", l.label)
		if now.Before(l.rec.Start()) {
			b.WriteString(" (warmup)")
		}
		fmt.Fprintf(&b, " %s msg/s, %d err", thousands(rate(iv.Msgs, secs)), iv.Errs)
		if len(iv.P99Us) > 0 {
			b.WriteString(", p99")
			for _, v := range iv.P99Us {
				fmt.Fprintf(&b, " %s %s", v.Op, ms(v.Us))
			}
		}
	}
	return b.String()
}

// ms formats microseconds as milliseconds.
func ms(us int64) string {
	switch {
	case us < 10_000:
		return fmt.Sprintf("%.2fms", float64(us)/1000)
	case us < 100_000:
		return fmt.Sprintf("%.1fms", float64(us)/1000)
	}
	return fmt.Sprintf("%.0fms", float64(us)/1000)
}

// thousands formats v rounded to an integer with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
