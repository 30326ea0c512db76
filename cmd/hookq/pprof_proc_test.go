package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// --pprof-addr serves the Go profiles on its own listener; without it the
// API port has no /debug/pprof.
func TestPprofAddrServesProfilesOnlyWhenSet(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	addr := freePort(t)
	p := newProc(t, "prof", "--pprof-addr", addr)
	p.start()
	p.waitReady(30 * time.Second)
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatalf("pprof: %v\n%s", err, p.log())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "serve") {
		t.Fatalf("GET /debug/pprof/cmdline = %d %q, want 200 with the command line", resp.StatusCode, body)
	}
	if code, _, _, err := call("GET", p.url("/debug/pprof/cmdline"), nil); err != nil || code != http.StatusNotFound {
		t.Fatalf("the API port answers /debug/pprof/cmdline with %d %v, want 404", code, err)
	}

	q := newProc(t, "noprof")
	q.start()
	q.waitReady(30 * time.Second)
	if code, _, _, err := call("GET", q.url("/debug/pprof/cmdline"), nil); err != nil || code != http.StatusNotFound {
		t.Fatalf("without --pprof-addr the API port answers /debug/pprof/cmdline with %d %v, want 404", code, err)
	}
}
