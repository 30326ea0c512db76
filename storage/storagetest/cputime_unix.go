//go:build unix

package storagetest

import (
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is the CPU time this process has used (user + system), all
// goroutines and Pebble's background work included.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports the process CPU time per op since start as cpu-ns/op:
// on a shared machine it moves far less than the wall-clock ns/op.
func ReportCPU(b *testing.B, start time.Duration) {
	if d := ProcessCPU() - start; d > 0 && b.N > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
