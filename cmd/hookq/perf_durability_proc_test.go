package main

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Under the optimised paths (configs in memory, group commit of many
// concurrent requests per Raft entry, batch lease and batch settle, Pebble
// writing without its own fsync), every 2xx still means committed by a
// majority that fsynced its Raft log: three voters take a burst of 1 KiB
// webhooks from 48 concurrent clients plus batch leases and acks, and are
// all SIGKILLed the moment the last answer arrives. After a restart every
// 2xx'd webhook that was not acked is delivered, and none that was acked
// comes back; and the same holds for a node started from a snapshot of
// that state (backup, then restore into a fresh node).
func TestOptimisedPathLosesNothingOnSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	ps := cluster3(t)
	leader := leaderOf(t, ps)
	setupQueue(t, leader, "burst")
	body := strings.Repeat("x", 1000)

	var mu sync.Mutex
	accepted := map[string]string{} // messageId → event id
	post := func(i int) {
		ev := fmt.Sprintf("ev-%d", i)
		code, out, _, err := call("POST", leader.url("/hooks/burst"), fmt.Sprintf(`{"n":%d,"pad":%q}`, i, body), "X-Event-Id", ev)
		if err != nil || code != 202 {
			return // not acknowledged: the test claims nothing about it
		}
		var r struct {
			MessageID string `json:"messageId"`
		}
		if json.Unmarshal(out, &r) != nil || r.MessageID == "" {
			t.Errorf("2xx without a messageId: %s", out)
			return
		}
		mu.Lock()
		accepted[r.MessageID] = ev
		mu.Unlock()
	}
	burst := func(from, n int) {
		var wg sync.WaitGroup
		work := make(chan int)
		for range 48 {
			wg.Go(func() {
				for i := range work {
					post(i)
				}
			})
		}
		for i := from; i < from+n; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
	}

	burst(0, 1500)
	// Lease batches of 100 and ack them in one settle each.
	acked := map[string]bool{}
	for range 3 {
		code, out, _, err := call("POST", leader.url("/v1/queues/burst/lease"), map[string]any{"max": 100, "wait": "1s"})
		if err != nil || code != 200 {
			t.Fatalf("lease: %d %v %s", code, err, out)
		}
		var res struct {
			Messages []struct {
				Meta struct {
					MessageID  string `json:"messageId"`
					DeliveryID string `json:"deliveryId"`
				} `json:"meta"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(out, &res); err != nil || len(res.Messages) == 0 {
			t.Fatalf("lease body: %v %s", err, out)
		}
		var ids []string
		for _, m := range res.Messages {
			ids = append(ids, m.Meta.DeliveryID)
		}
		code, out, _, err = call("POST", leader.url("/v1/queues/burst/settle"), map[string]any{"ack": ids})
		if err != nil || code != 200 {
			t.Fatalf("settle: %d %v %s", code, err, out)
		}
		var sr struct {
			Results []struct {
				Status string `json:"status"`
			} `json:"results"`
		}
		if err := json.Unmarshal(out, &sr); err != nil || len(sr.Results) != len(ids) {
			t.Fatalf("settle body: %v %s", err, out)
		}
		for i, r := range sr.Results {
			if r.Status == "ok" {
				acked[res.Messages[i].Meta.MessageID] = true
			}
		}
	}
	// A second burst, and SIGKILL of every voter right after its last answer.
	burst(1500, 1500)
	var kw sync.WaitGroup
	for _, p := range ps {
		kw.Go(p.kill)
	}
	kw.Wait()
	if len(accepted) < 1000 {
		t.Fatalf("only %d of 3000 webhooks were accepted before the kill; the test needs most of them", len(accepted))
	}
	if len(acked) == 0 {
		t.Fatal("no ack succeeded before the kill")
	}

	for _, p := range ps {
		p.start()
	}
	for _, p := range ps {
		p.waitReady(60 * time.Second)
	}
	leader = leaderOf(t, ps)

	// The same state through a snapshot: a backup (a consistent snapshot
	// of a voter's state) restored into a fresh single-voter node, which
	// starts from that snapshot (state machine restored from it, configs
	// in memory rebuilt from it).
	file := filepath.Join(t.TempDir(), "burst.backup")
	if out, err := exec.Command(binary, "backup", "--url", leader.url(""), "--token", testAdmin, "--out", file).CombinedOutput(); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	r := newProc(t, "r1")
	if out, err := exec.Command(binary, "restore", "--in", file, "--data-dir", r.dir, "--node-id", r.id, "--raft-addr", r.raft).CombinedOutput(); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	r.start()
	r.waitReady(30 * time.Second)
	// Its source config comes from the restored snapshot.
	if code, out, _, err := call("POST", r.url("/hooks/burst"), `{"after":"restore"}`, "X-Event-Id", "after-restore"); err != nil || code != 202 {
		t.Fatalf("ingest into the restored node: %d %v %s", code, err, out)
	}
	restored, _ := drain(t, r, "burst")
	wantAll(t, "the node restored from a snapshot", accepted, acked, restored)

	ids, _ := drain(t, leader, "burst")
	wantAll(t, "the restarted voters", accepted, acked, ids)
	t.Logf("%d webhooks 2xx'd, %d acked before the kill, %d delivered after restart, %d by the restored node, none lost",
		len(accepted), len(acked), len(ids), len(restored))
}

// wantAll fails the test unless got holds every accepted message that was
// not acked, and none that was.
func wantAll(t *testing.T, who string, accepted map[string]string, acked, got map[string]bool) {
	t.Helper()
	lost := 0
	for id, ev := range accepted {
		switch {
		case acked[id] && got[id]:
			t.Errorf("%s: message %s (%s) was acked before the kill and was delivered again", who, id, ev)
		case !acked[id] && !got[id]:
			lost++
			if lost <= 10 {
				t.Errorf("%s: 2xx'd message %s (%s) lost after SIGKILL of all voters", who, id, ev)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%s: %d of %d acknowledged webhooks lost", who, lost, len(accepted))
	}
}
