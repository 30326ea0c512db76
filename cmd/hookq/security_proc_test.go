package main

import (
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// withoutAdminToken drops --admin-token <t> from a proc's arguments.
func withoutAdminToken(args []string) []string {
	i := slices.Index(args, "--admin-token")
	if i < 0 {
		return args
	}
	return slices.Delete(slices.Clone(args), i, i+2)
}

// waitLog polls p's output until it contains s.
func (p *proc) waitLog(s string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.log(), s) {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: no %q in the output within %v:\n%s", p.id, s, timeout, p.log())
		}
		if !p.alive() {
			p.t.Fatalf("%s exited:\n%s", p.id, p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The data dir and everything in it are private to the node's user: a
// data dir left open (0755, a 0644 file) is tightened, and what the node
// writes (Pebble, the Raft log, snapshots dir) is created private. The
// admin token comes from a file.
func TestDataDirIsPrivate(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	tokFile := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(tokFile, []byte(testAdmin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newProc(t, "n1")
	p.args = append(withoutAdminToken(p.args), "--admin-token-file", tokFile, "--log-level", "info")
	if err := os.Chmod(p.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(p.dir, "left-by-an-old-version")
	if err := os.WriteFile(stray, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(stray, 0o644); err != nil {
		t.Fatal(err)
	}
	p.start()
	p.waitReady(30 * time.Second)
	if strings.Contains(strings.Join(p.cmd.Args, " "), testAdmin) {
		t.Fatal("the admin token is on the command line")
	}
	setupQueue(t, p, "orders")
	for i := 0; i < 50; i++ {
		mustCall(t, http.StatusAccepted, "POST", p.url("/hooks/orders"), `{"n":1}`)
	}
	if ids, _ := drain(t, p, "orders"); len(ids) != 50 {
		t.Fatalf("drained %d of 50", len(ids))
	}
	var seen, files int
	err := filepath.WalkDir(p.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		seen++
		if !d.IsDir() {
			files++
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s: mode %04o, open to group or others", path, perm)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("only %d files under the data dir: is it the right one?", files)
	}
	t.Logf("%d paths under the data dir checked", seen)
	p.waitLog("data dir was open to other users", 5*time.Second)
}

// A node without an admin token says so at start and how to get admin.
func TestNodeWithoutAdminTokenSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	p := newProc(t, "n1")
	p.args = withoutAdminToken(p.args)
	p.start()
	p.waitLog("started without --admin-token", 30*time.Second)
	for _, want := range []string{"--admin-token-file", "POST /v1/tokens"} {
		if !strings.Contains(p.log(), want) {
			t.Fatalf("start message lacks %q:\n%s", want, p.log())
		}
	}
}

// The --dev banner shows the admin token and data dir in effect, not the
// defaults.
func TestDevBannerShowsOverrides(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	p := newProc(t, "n1", "--dev")
	p.args = append(withoutAdminToken(p.args), "--admin-token", "banner-tok")
	p.start()
	p.waitLog("hookq dev node ready", 30*time.Second)
	out := p.log()
	for _, want := range []string{"admin token: banner-tok", "data: " + p.dir, "Bearer banner-tok"} {
		if !strings.Contains(out, want) {
			t.Fatalf("banner lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Bearer dev") || strings.Contains(out, "./hookq-data") {
		t.Fatalf("banner shows the defaults:\n%s", out)
	}
}

// A voter with its own cluster key and an ingest key (both from files) and
// an ingest node holding only the ingest key: the ingest node forwards
// webhooks; neither key is a token of the voter's /v1 API.
func TestSeparateNodeKeysEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	keyFile := func(name, secret string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const clusterKey, ingestKey = "proc-cluster-key", "proc-ingest-key"
	ck, ik := keyFile("cluster", clusterKey), keyFile("ingest", ingestKey)
	n1 := newProc(t, "n1", "--cluster-key-file", ck, "--ingest-key-file", ik)
	n1.start()
	n1.waitReady(30 * time.Second)
	setupQueue(t, n1, "orders")

	ing := newProc(t, "i1", "--role", "ingest", "--seeds", n1.url(""), "--ingest-key-file", ik, "--log-level", "info")
	ing.args = withoutAdminToken(ing.args)
	ing.start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, _, err := call("POST", ing.url("/hooks/orders"), `{}`, "X-Event-Id", "e1")
		if err == nil && code == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest node never accepted: %d %v\n%s", code, err, ing.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(ing.log(), "no --ingest-key") {
		t.Fatalf("the ingest node fell back to another key:\n%s", ing.log())
	}

	for _, key := range []string{clusterKey, ingestKey} {
		for _, rt := range []struct{ method, path string }{{"GET", "/v1/tokens"}, {"POST", "/v1/tokens"}, {"GET", "/v1/queues"}} {
			code, out, _, err := call(rt.method, n1.url(rt.path), map[string]any{"name": "evil", "scopes": []string{"admin"}}, "Authorization", "Bearer "+key)
			if err != nil || code != http.StatusUnauthorized {
				t.Fatalf("%s %s with a node key = %d %v %s, want 401", rt.method, rt.path, code, err, out)
			}
		}
	}
	if ids, _ := drain(t, n1, "orders"); len(ids) != 1 {
		t.Fatalf("drained %d messages, want the 1 forwarded by the ingest node", len(ids))
	}
}
