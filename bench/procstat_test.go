package bench

import (
	"math"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stat    string
		want    uint64
		wantErr bool
	}{
		{
			name: "plain command name",
			stat: "4242 (hookq) S 1 4242 4242 0 -1 4194560 1204 0 0 0 250 50 0 0 20 0 9 0 123 0 0\n",
			want: 300,
		},
		{
			name: "command name with spaces and a closing parenthesis",
			stat: "7 (a b) c) R 1 7 7 0 -1 0 0 0 0 0 12 3 0 0 20 0 1 0 5 0 0",
			want: 15,
		},
		{name: "no command name", stat: "7 hookq R 1", wantErr: true},
		{name: "too few fields", stat: "7 (hookq) R 1 7 7 0 -1 0 0 0 0 0 12", wantErr: true},
		{name: "non-numeric utime", stat: "7 (hookq) R 1 7 7 0 -1 0 0 0 0 0 x 3 0", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("parseStatCPU = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestProcCPUOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func TestTicksToDuration(t *testing.T) {
	for _, c := range []struct {
		ticks uint64
		want  time.Duration
	}{
		{0, 0},
		{1, 10 * time.Millisecond},
		{250, 2500 * time.Millisecond},
		// ticks * time.Second would overflow an int64 here.
		{1e10 + 7, 1e8*time.Second + 70*time.Millisecond},
		{math.MaxUint64, math.MaxInt64},
	} {
		if got := ticksToDuration(c.ticks); got != c.want {
			t.Errorf("ticksToDuration(%d) = %v, want %v", c.ticks, got, c.want)
		}
	}
}

func TestParseEntryOps(t *testing.T) {
	text := "# HELP hookq_raft_apply_batch_size x\n# TYPE hookq_raft_apply_batch_size histogram\n" +
		"hookq_raft_apply_batch_size_bucket{le=\"1\"} 3\nhookq_raft_apply_batch_size_sum 420\nhookq_raft_apply_batch_size_count 30\nother_sum 5\n"
	e := parseEntryOps(text)
	if !e.ok || e.sum != 420 || e.count != 30 {
		t.Fatalf("parseEntryOps = %+v, want sum 420 count 30", e)
	}
	n, per := e.since(entryOps{sum: 20, count: 10, ok: true})
	if n != 20 || per != 20 {
		t.Fatalf("since = %d entries, %v per entry; want 20, 20", n, per)
	}
	if n, _ := e.since(entryOps{}); n != 0 {
		t.Fatalf("since an unread scrape = %d entries, want 0", n)
	}
	if parseEntryOps("hookq_raft_apply_batch_size_sum 1\n").ok {
		t.Fatal("a scrape without _count counted as read")
	}
}
