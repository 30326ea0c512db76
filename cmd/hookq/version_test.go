package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVersionPrintsReleaseCommitAndGo(t *testing.T) {
	old, oldCommit := version, commit
	t.Cleanup(func() { version, commit = old, oldCommit })
	version, commit = "v9.8.7", "0123456789abcdef"
	for _, arg := range []string{"version", "--version"} {
		var out, errw bytes.Buffer
		if err := Run(t.Context(), []string{arg}, &out, &errw); err != nil {
			t.Fatalf("%s: %v %s", arg, err, errw.String())
		}
		for _, want := range []string{"hookq v9.8.7", "commit 0123456789ab", "go1.", "data format 1"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("%s printed %q, want %q in it", arg, out.String(), want)
			}
		}
	}
	if got := releaseString(); got != "v9.8.7" {
		t.Fatalf("releaseString = %q", got)
	}
}

// A node refuses to start on a data dir whose recorded format it does
// not know, says why, and leaves the dir as it was.
func TestServeRefusesUnknownDataFormat(t *testing.T) {
	p := newProc(t, "n1")
	if err := os.WriteFile(filepath.Join(p.dir, "FORMAT"), []byte("hookq-data-format 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, p.args...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("serve kept running on an unknown data format:\n%s", out)
	}
	if err == nil {
		t.Fatalf("serve exited 0 on an unknown data format:\n%s", out)
	}
	if !strings.Contains(string(out), "has format 7, this release reads format 1 only") {
		t.Fatalf("no clear message:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "raft")); err == nil {
		t.Fatal("serve created raft/ in the refused data dir")
	}
}

// Every voter's and the ingest node's release shows in GET /v1/cluster:
// voters report it in their heartbeats and node records.
func TestClusterShowsNodeVersions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	out, err := exec.Command(binary, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := releaseOf(string(out))
	ps := cluster3(t)
	ing := newProc(t, "i1", "--role", "ingest", "--seeds", ps[0].url("")+","+ps[1].url(""))
	ing.start()
	ing.waitReady(30 * time.Second)
	within(t, 20*time.Second, "every node's version in /v1/cluster", func() (bool, string) {
		code, body, _, err := call("GET", ps[1].url("/v1/cluster"), nil)
		if err != nil || code != 200 {
			return false, string(body)
		}
		var c struct {
			Nodes []struct {
				ID, Version string
			} `json:"nodes"`
		}
		if json.Unmarshal(body, &c) != nil {
			return false, string(body)
		}
		seen := map[string]bool{}
		for _, n := range c.Nodes {
			seen[n.ID] = n.Version == want
		}
		return seen["n1"] && seen["n2"] && seen["n3"] && seen[ing.id], "want version " + want + " on every node: " + string(body)
	})
}

// releaseOf is the release a node reports, from `hookq version`'s output:
// the version, or dev+<commit> for an untagged build.
func releaseOf(out string) string {
	var ver, com string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "hookq "); ok {
			ver = v
		}
		if c, ok := strings.CutPrefix(l, "commit "); ok {
			com = strings.Fields(c)[0]
		}
	}
	if ver == "dev" && com != "unknown" {
		return "dev+" + com
	}
	return ver
}
