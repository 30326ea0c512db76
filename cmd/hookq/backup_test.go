package main

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A backup taken from a follower of a 3-node cluster under ingest, restored
// into a fresh data dir, starts a new single-voter cluster that holds
// every message acknowledged (2xx) before the backup began.
func TestBackupUnderIngestRestoresIntoFreshNode(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	ps := cluster3(t)
	leader := leaderOf(t, ps)
	setupQueue(t, leader, "orders")
	var follower *proc
	for _, p := range ps {
		if p != leader {
			follower = p
			break
		}
	}

	load := &loadGen{ps: ps, prefix: "bk-"}
	load.run(4, 1_000_000)
	defer func() { close(load.stop); load.wg.Wait() }()
	within(t, 30*time.Second, "some messages acknowledged", func() (bool, string) {
		load.mu.Lock()
		defer load.mu.Unlock()
		return len(load.acked) >= 300, ""
	})

	load.mu.Lock()
	before := maps.Clone(load.acked) // 2xx'd before the backup began
	load.mu.Unlock()
	file := filepath.Join(t.TempDir(), "hookq.backup")
	out, err := exec.Command(binary, "backup", "--url", follower.url(""), "--token", testAdmin, "--out", file).CombinedOutput()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	load.mu.Lock()
	during := len(load.acked) - len(before)
	load.mu.Unlock()
	t.Logf("%d messages acknowledged before the backup, %d more while it ran", len(before), during)

	// A damaged copy is refused and leaves its data dir without node state.
	bad := filepath.Join(t.TempDir(), "bad.backup")
	b, _ := os.ReadFile(file)
	b[len(b)/2] ^= 0xff
	os.WriteFile(bad, b, 0o600)
	badDir := t.TempDir()
	if out, err := exec.Command(binary, "restore", "--in", bad, "--data-dir", badDir).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "checksum mismatch") {
		t.Fatalf("restore of a damaged backup: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(badDir, "fsm")); err == nil {
		t.Fatal("a refused restore wrote node state")
	}

	r := newProc(t, "r1")
	out, err = exec.Command(binary, "restore", "--in", file, "--data-dir", r.dir, "--node-id", r.id, "--raft-addr", r.raft).CombinedOutput()
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	// Restoring over node state is refused.
	if out, err := exec.Command(binary, "restore", "--in", file, "--data-dir", r.dir, "--node-id", r.id, "--raft-addr", r.raft).CombinedOutput(); err == nil {
		t.Fatalf("restore into a seeded dir succeeded:\n%s", out)
	}
	r.start()
	r.waitReady(30 * time.Second)

	var c struct {
		Leader string `json:"leader"`
		Nodes  []struct {
			ID       string `json:"id"`
			Suffrage string `json:"suffrage"`
		} `json:"nodes"`
	}
	within(t, 10*time.Second, "the restored node alone in its cluster", func() (bool, string) {
		body := mustCall(t, 200, "GET", r.url("/v1/cluster"), nil)
		if err := json.Unmarshal(body, &c); err != nil {
			return false, err.Error()
		}
		return c.Leader == "r1" && len(c.Nodes) == 1 && c.Nodes[0].ID == "r1", string(body)
	})

	ids, _ := drain(t, r, "orders")
	missing := 0
	for id, ev := range before {
		if !ids[id] {
			if missing < 5 {
				t.Errorf("message %s (event %s) acknowledged before the backup is not in the restored node", id, ev)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d messages acknowledged before the backup are missing", missing, len(before))
	}
	t.Logf("restored node holds %d messages; all %d acknowledged before the backup are there", len(ids), len(before))

	// The restored cluster takes new writes.
	code, body, _, err := call("POST", r.url("/hooks/orders"), `{}`, "X-Event-Id", "after-restore")
	if err != nil || code != 202 {
		t.Fatalf("ingest after restore: %d %v %s", code, err, body)
	}
}
