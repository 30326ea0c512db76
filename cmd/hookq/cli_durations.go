package main

import (
	"strings"
	"time"
)

// shortDuration writes d in the shortest form time.ParseDuration reads
// back as d: Go's time.Duration.String() without zero minutes or seconds
// ("24h", "2m", "1m30s", "1h30s", "300ms"). The API answers
// time.Duration.String() ("24h0m0s", the contract); the CLI's tables show
// people this form.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return strings.Replace(s, "h0m", "h", 1)
}

// short rewrites a duration the API answered in its shortest form; a
// string that is not a duration is shown as it is.
func short(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	return shortDuration(d)
}

// shortList is a list of durations in their shortest forms, comma-separated.
func shortList(ds []string) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = short(d)
	}
	return strings.Join(out, ",")
}
