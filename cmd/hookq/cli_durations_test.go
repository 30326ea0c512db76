package main

import (
	"testing"
	"time"
)

func TestShortDurationIsTheShortestFormThatParsesBack(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{300 * time.Millisecond, "300ms"},
		{1500 * time.Millisecond, "1.5s"},
		{30 * time.Second, "30s"},
		{2 * time.Minute, "2m"},
		{90 * time.Second, "1m30s"},
		{24 * time.Hour, "24h"},
		{time.Hour + 30*time.Second, "1h30s"},
		{time.Hour + 90*time.Second, "1h1m30s"},
		{time.Hour + 10*time.Minute, "1h10m"},
		{time.Hour + 500*time.Millisecond, "1h0.5s"},
		{8760 * time.Hour, "8760h"},
	} {
		got := shortDuration(tc.d)
		if got != tc.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != tc.d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, tc.d)
		}
	}
}
