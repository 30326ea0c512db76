//go:build !unix

package storagetest

import (
	"testing"
	"time"
)

// ProcessCPU is 0 where getrusage is not available.
func ProcessCPU() time.Duration { return 0 }

// ReportCPU reports nothing where ProcessCPU cannot measure.
func ReportCPU(*testing.B, time.Duration) {}
