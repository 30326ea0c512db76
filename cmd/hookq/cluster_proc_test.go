package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cluster3 starts three voters with the same --peers.
func cluster3(t *testing.T) []*proc {
	t.Helper()
	ps := []*proc{newProc(t, "n1"), newProc(t, "n2"), newProc(t, "n3")}
	var peers []string
	for _, p := range ps {
		peers = append(peers, p.id+"="+p.raft)
	}
	for _, p := range ps {
		p.args = append(p.args, "--peers", strings.Join(peers, ","))
		p.start()
	}
	for _, p := range ps {
		p.waitReady(30 * time.Second)
	}
	return ps
}

// leaderOf asks a live node who leads; it polls until one is known.
func leaderOf(t *testing.T, ps []*proc) *proc {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range ps {
			if !p.alive() {
				continue
			}
			code, out, _, err := call("GET", p.url("/v1/cluster"), nil)
			if err != nil || code != 200 {
				continue
			}
			var c struct {
				Leader string `json:"leader"`
			}
			if json.Unmarshal(out, &c) == nil {
				for _, q := range ps {
					if q.id == c.Leader && q.alive() {
						return q
					}
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no leader known")
	return nil
}

// loadGen posts webhooks with unique X-Event-Id values to random live
// nodes, retrying a failed event on another node (dedup makes that safe),
// and records every 2xx'd messageId and when it came.
type loadGen struct {
	ps      []*proc
	prefix  string // event ids are prefix + counter
	mu      sync.Mutex
	acked   map[string]string // messageId → event id
	okTimes []okTime
	failLog []string // recent failures, for diagnosing a slow failover
	fails   atomic.Int64
	next    atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

func (l *loadGen) run(workers, maxEvents int) {
	l.acked, l.stop = map[string]string{}, make(chan struct{})
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				n := l.next.Add(1)
				if n > int64(maxEvents) {
					return
				}
				l.post(l.prefix + fmt.Sprint(n))
			}
		}()
	}
}

// post delivers one event, retrying for up to 30s.
func (l *loadGen) post(ev string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		p := l.ps[rand.IntN(len(l.ps))]
		if !p.alive() {
			continue
		}
		sent := time.Now()
		code, out, _, err := call("POST", p.url("/hooks/orders"), `{"ev":"`+ev+`"}`, "X-Event-Id", ev, "Content-Type", "application/json")
		if err == nil && (code == 202 || code == 200) {
			var r struct {
				MessageID string `json:"messageId"`
			}
			if json.Unmarshal(out, &r) == nil {
				l.mu.Lock()
				l.acked[r.MessageID] = ev
				l.okTimes = append(l.okTimes, okTime{sent: sent, done: time.Now()})
				l.mu.Unlock()
			}
			return
		}
		l.fails.Add(1)
		l.mu.Lock()
		msg := fmt.Sprintf("%s %s %d %v %.120s", time.Now().Format("15:04:05.000"), p.id, code, err, out)
		l.failLog = append(l.failLog, msg)
		if len(l.failLog) > 400 {
			l.failLog = l.failLog[len(l.failLog)-400:]
		}
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

type okTime struct{ sent, done time.Time }

// firstOKAfter is when the first 2xx to a request sent after t arrived
// (zero if none yet).
func (l *loadGen) firstOKAfter(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, ok := range l.okTimes {
		if ok.sent.After(t) && (first.IsZero() || ok.done.Before(first)) {
			first = ok.done
		}
	}
	return first
}

func (l *loadGen) finish() {
	close(l.stop)
	l.wg.Wait()
}

// Three voters under load; the leader is SIGKILLed three times in a row
// (restarted each time); every 2xx'd messageId is then delivered. Then all
// three are SIGKILLed at once and restarted: nothing 2xx'd is lost. With
// two of three down the survivor answers 503 and never 2xx.
func TestClusterLosesNothingAcrossLeaderKills(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	ps := cluster3(t)
	setupQueue(t, leaderOf(t, ps), "orders")

	load := &loadGen{ps: ps, prefix: "kills-"}
	load.run(8, 200000)
	var failovers []time.Duration
	for kill := 0; kill < 3; kill++ {
		time.Sleep(1500 * time.Millisecond) // let load run between kills (not synchronisation)
		victim := leaderOf(t, ps)
		at := time.Now()
		victim.kill()
		deadline := time.Now().Add(30 * time.Second)
		for load.firstOKAfter(at).IsZero() {
			if time.Now().After(deadline) {
				t.Fatalf("no 2xx within 30s of killing leader %s", victim.id)
			}
			time.Sleep(10 * time.Millisecond)
		}
		failovers = append(failovers, load.firstOKAfter(at).Sub(at))
		if d := failovers[len(failovers)-1]; d > 5*time.Second {
			load.mu.Lock()
			t.Logf("slow failover (%v) after killing %s at %s; recent failures:\n%s", d, victim.id, at.Format("15:04:05.000"), strings.Join(load.failLog, "\n"))
			load.mu.Unlock()
			for _, p := range ps {
				if p.alive() {
					t.Logf("log of %s:\n%s", p.id, p.log())
				}
			}
		}
		victim.start()
		victim.waitReady(30 * time.Second)
	}
	load.finish()
	ids, events := drain(t, leaderOf(t, ps), "orders")
	lost := 0
	for id := range load.acked {
		if !ids[id] {
			lost++
		}
	}
	dups := 0
	for _, n := range events {
		if n > 1 {
			dups += n - 1
		}
	}
	sort.Slice(failovers, func(i, j int) bool { return failovers[i] < failovers[j] })
	t.Logf("leader kills: 3; 2xx'd: %d; failed attempts retried: %d; failover (kill → first 2xx) %v, median %v; duplicate deliveries: %d",
		len(load.acked), load.fails.Load(), failovers, failovers[len(failovers)/2], dups)
	if lost > 0 {
		t.Fatalf("%d of %d 2xx'd messages were not delivered", lost, len(load.acked))
	}

	// All three at once.
	more := &loadGen{ps: ps, prefix: "total-"}
	more.run(8, 400)
	more.wg.Wait()
	for _, p := range ps {
		p.kill()
	}
	for _, p := range ps {
		p.start()
	}
	for _, p := range ps {
		p.waitReady(30 * time.Second)
	}
	ids, _ = drain(t, leaderOf(t, ps), "orders")
	for id := range more.acked {
		if !ids[id] {
			t.Errorf("2xx'd %s lost after killing all three nodes", id)
		}
	}
	if len(more.acked) != 400 {
		t.Fatalf("only %d of 400 ingests 2xx'd before the total kill", len(more.acked))
	}

	// Two of three down: the survivor never answers 2xx.
	ps[0].kill()
	ps[1].kill()
	for i := 0; i < 5; i++ {
		code, out, hdr, err := call("POST", ps[2].url("/hooks/orders"), `{"x":1}`, "X-Event-Id", fmt.Sprint("minority-", i))
		if err != nil {
			t.Fatalf("survivor: %v", err)
		}
		if code != 503 || hdr.Get("Retry-After") == "" {
			t.Fatalf("survivor answered %d %s, want 503 with Retry-After", code, out)
		}
	}
}

// An ingest node (no Raft, no Pebble) keeps accepting across a leader
// kill, after a short 503 window, and loses nothing it 2xx'd.
func TestIngestNodeSurvivesLeaderKill(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	ps := cluster3(t)
	setupQueue(t, leaderOf(t, ps), "orders")
	var seeds []string
	for _, p := range ps {
		seeds = append(seeds, p.url(""))
	}
	ing := newProc(t, "i1", "--role", "ingest", "--seeds", strings.Join(seeds, ","))
	ing.start()
	ing.waitReady(30 * time.Second)
	// Its source config arrives by heartbeat; wait for the first 2xx.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, _, err := call("POST", ing.url("/hooks/orders"), `{}`, "X-Event-Id", "warmup")
		if err == nil && code == 202 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest node never accepted: %d %v\n%s", code, err, ing.log())
		}
		time.Sleep(50 * time.Millisecond)
	}

	load := &loadGen{ps: []*proc{ing}, prefix: "ing-"}
	load.run(4, 200000)
	time.Sleep(time.Second) // let load run before the kill (not synchronisation)
	victim := leaderOf(t, ps)
	at := time.Now()
	victim.kill()
	deadline = time.Now().Add(30 * time.Second)
	for load.firstOKAfter(at).IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("ingest node accepted nothing within 30s of the leader kill\n%s", ing.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("ingest node: first 2xx %v after the leader kill", load.firstOKAfter(at).Sub(at))
	time.Sleep(time.Second) // some more accepted traffic through the new leader
	load.finish()

	code, out, _, err := call("GET", leaderOf(t, ps).url("/v1/cluster"), nil)
	if err != nil || code != 200 || !strings.Contains(string(out), `"id":"i1"`) || !strings.Contains(string(out), `"role":"ingest"`) {
		t.Fatalf("ingest node not registered: %d %v %s", code, err, out)
	}
	ids, _ := drain(t, leaderOf(t, ps), "orders")
	for id := range load.acked {
		if !ids[id] {
			t.Errorf("2xx'd %s (via ingest node) lost", id)
		}
	}
	if len(load.acked) == 0 {
		t.Fatal("no ingest succeeded")
	}
}
