package bench

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK) would
// need cgo).
const clockTicks = 100

// procCPU is the CPU time (user + system) pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	ticks, err := parseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	return ticksToDuration(ticks), nil
}

// ticksToDuration converts clock ticks to a Duration without overflowing
// (ticks * time.Second overflows an int64 after ~2.9 years of CPU time at
// 100 Hz), saturating at the largest Duration.
func ticksToDuration(ticks uint64) time.Duration {
	secs, rem := ticks/clockTicks, ticks%clockTicks
	if secs > uint64(math.MaxInt64/int64(time.Second))-1 {
		return math.MaxInt64
	}
	return time.Duration(secs)*time.Second + time.Duration(rem)*time.Second/clockTicks
}

// parseStatCPU returns utime+stime, in clock ticks, from the contents of
// /proc/<pid>/stat (proc(5)): fields 14 and 15, counted after the command
// name, which is in parentheses and may itself hold spaces or ')'.
func parseStatCPU(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(f))
	}
	ut, err := strconv.ParseUint(string(f[14-3]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat: utime: %w", err)
	}
	st, err := strconv.ParseUint(string(f[15-3]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat: stime: %w", err)
	}
	return ut + st, nil
}
