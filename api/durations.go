package api

import (
	"strings"
	"time"
)

// shortDuration writes d in the shortest form time.ParseDuration reads
// back as d: Go's time.Duration.String() without zero minutes or seconds
// ("24h", "2m", "1m30s", "1h30s", "300ms").
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
