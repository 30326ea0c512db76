package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logLines parses every line p wrote as one JSON object (the test fails
// on a line that is not), from byte offset from.
func logLines(t *testing.T, p *proc, from int) []map[string]any {
	t.Helper()
	text := p.log()[from:]
	var out []map[string]any
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: log line is not JSON: %q (%v)", p.id, line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestJSONLogsAuditAndQuietFollowerRestart runs three voters with
// --log-format json: every line parses; creating a token writes an audit
// line naming the token and its creator without the secret; a follower's
// graceful restart, and then the leader's graceful shutdown, write no
// ERROR line on any node.
func TestJSONLogsAuditAndQuietFollowerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	ps := []*proc{newProc(t, "n1"), newProc(t, "n2"), newProc(t, "n3")}
	var peers []string
	for _, p := range ps {
		peers = append(peers, p.id+"="+p.raft)
	}
	for _, p := range ps {
		p.args = append(p.args, "--peers", strings.Join(peers, ","), "--log-format", "json", "--log-level", "info")
		p.start()
	}
	for _, p := range ps {
		p.waitReady(30 * time.Second)
	}
	leader := leaderOf(t, ps)

	out := mustCall(t, 201, "POST", leader.url("/v1/tokens"), map[string]any{"name": "ops-bot", "scopes": []string{"read:*"}})
	var tok struct{ Token string }
	if err := json.Unmarshal(out, &tok); err != nil || tok.Token == "" {
		t.Fatalf("token answer %s: %v", out, err)
	}
	// The audit line is written once the answer is sent: wait for it.
	var audit map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for audit == nil {
		for _, l := range logLines(t, leader, 0) {
			if l["audit"] == true && l["action"] == "token.create" {
				audit = l
			}
		}
		if audit == nil && time.Now().After(deadline) {
			t.Fatalf("no audit line for the token creation in %s's log:\n%s", leader.id, leader.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if audit["token"] != "ops-bot" || audit["who"] != "admin-token" || audit["result"] != "ok" || audit["status"] != "201" {
		t.Fatalf("audit line %v: want token ops-bot, who admin-token, result ok, status 201", audit)
	}
	for _, p := range ps {
		for _, secret := range []string{tok.Token, testAdmin} {
			if strings.Contains(p.log(), secret) {
				t.Fatalf("%s's log holds a secret:\n%s", p.id, p.log())
			}
		}
	}

	// A follower restarts gracefully. The leader notices (a warning about
	// the peer) while it is down; nobody logs an ERROR.
	var follower *proc
	for _, p := range ps {
		if p != leader {
			follower = p
			break
		}
	}
	marks := map[*proc]int{}
	for _, p := range ps {
		marks[p] = len(p.log())
	}
	if err := follower.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-follower.exited
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(leader.log()[marks[leader]:], `"level":"WARN"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the leader logged nothing about its peer being down:\n%s", leader.log()[marks[leader]:])
		}
		time.Sleep(50 * time.Millisecond)
	}
	follower.start()
	follower.waitReady(30 * time.Second)
	mustCall(t, 200, "GET", leader.url("/v1/cluster"), nil)
	for _, p := range ps {
		from := marks[p]
		if p == follower {
			from = 0 // its whole log: shutdown and start again
		}
		for _, l := range logLines(t, p, from) {
			if l["level"] == "ERROR" {
				t.Errorf("%s logged an ERROR line around a follower restart: %v", p.id, l)
			}
		}
	}
	var warned bool
	for _, l := range logLines(t, leader, marks[leader]) {
		if l["level"] == "WARN" && strings.HasPrefix(l["msg"].(string), "failed to") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("the leader's log has no warning about the follower being down:\n%s", leader.log()[marks[leader]:])
	}

	// The leader shuts down gracefully (it hands leadership over): no
	// ERROR line on it or on the two that stay, and they log the change.
	for _, p := range ps {
		marks[p] = len(p.log())
	}
	if err := leader.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-leader.exited
	next := leaderOf(t, ps)
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(next.log()[marks[next]:], `"msg":"leadership gained"`) {
		if time.Now().After(deadline) {
			t.Fatalf("%s leads but did not log it:\n%s", next.id, next.log()[marks[next]:])
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range ps {
		for _, l := range logLines(t, p, marks[p]) {
			if l["level"] == "ERROR" {
				t.Errorf("%s logged an ERROR line around the leader's graceful shutdown: %v", p.id, l)
			}
		}
	}
}
