//go:build docker

// Package dockertest runs docker/compose.yaml (3 voters, 1 ingest node,
// mutual TLS) under faults: a partitioned leader, a killed voter, a
// rolling restart, and down/up with the same volumes. Run by
// `make docker-test` (go test -tags docker ./docker/dockertest/), which
// builds the image first; it needs a Docker daemon, docker compose or
// docker-compose (HOOKQ_COMPOSE), and root for nsenter (reaching a node
// cut off from its network). Every run ends with `down -v`, also on
// failure.
package dockertest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// env is one compose project of the test.
type env struct {
	t       *testing.T
	compose []string // e.g. [docker compose] or [docker-compose]
	project string
	file    string
	secrets string
	api     string // https://127.0.0.1:<published API port>
	ingest  string // https://127.0.0.1:<published ingest port>
	token   string
	client  *http.Client
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

func newEnv(t *testing.T) *env {
	if _, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Fatalf("no Docker daemon answers: %v", err)
	}
	compose := strings.Fields(os.Getenv("HOOKQ_COMPOSE"))
	if len(compose) == 0 {
		compose = []string{"docker-compose"}
	}
	root, _ := filepath.Abs("..")
	e := &env{t: t, compose: compose, project: fmt.Sprintf("hookqtest%d", os.Getpid()), file: filepath.Join(root, "compose.yaml"),
		secrets: t.TempDir()}
	apiPort, ingestPort := freePort(t), freePort(t)
	e.api, e.ingest = "https://127.0.0.1:"+apiPort, "https://127.0.0.1:"+ingestPort
	os.Setenv("HOOKQ_SECRETS_DIR", e.secrets)
	os.Setenv("HOOKQ_API_PORT", apiPort)
	os.Setenv("HOOKQ_INGEST_PORT", ingestPort)
	os.Setenv("HOOKQ_PUBLIC_URL", e.api)
	os.Setenv("HOOKQ_LOG_LEVEL", "warn")
	if out, err := exec.Command(filepath.Join(root, "gen-certs.sh")).CombinedOutput(); err != nil {
		t.Fatalf("gen-certs: %v\n%s", err, out)
	}
	tok, _ := os.ReadFile(filepath.Join(e.secrets, "admin-token"))
	e.token = strings.TrimSpace(string(tok))
	ca, _ := os.ReadFile(filepath.Join(e.secrets, "public-ca.pem"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	e.client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 16}}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := e.run("logs", "--no-color", "--tail", "60")
			t.Logf("compose logs:\n%s", out)
		}
		out, err := e.run("down", "-v", "--remove-orphans", "-t", "5")
		if err != nil {
			t.Errorf("down -v: %v\n%s", err, out)
		}
	})
	e.must("up", "-d")
	e.waitHealthy("n1", "n2", "n3", "ingest")
	return e
}

func (e *env) run(args ...string) (string, error) {
	full := append(append([]string{}, e.compose[1:]...), append([]string{"-p", e.project, "-f", e.file}, args...)...)
	out, err := exec.Command(e.compose[0], full...).CombinedOutput()
	return string(out), err
}

func (e *env) must(args ...string) string {
	e.t.Helper()
	out, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("compose %v: %v\n%s", args, err, out)
	}
	return out
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (e *env) container(svc string) string {
	return strings.TrimSpace(e.must("ps", "-q", svc))
}

func (e *env) network() string { return e.project + "_hookq" }

// url is the base URL of a voter, by its address on the compose network.
func (e *env) url(svc string) string {
	ip := docker(e.t, "inspect", "-f", `{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}`, e.container(svc))
	ip = strings.Fields(ip + " ")[0]
	return "https://" + ip + ":8080"
}

// within polls cond until it holds or fails the test after d.
func within(t *testing.T, d time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, why := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v: %s", what, d, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) waitHealthy(svcs ...string) {
	e.t.Helper()
	within(e.t, 90*time.Second, "containers healthy", func() (bool, string) {
		for _, s := range svcs {
			c := e.container(s)
			if c == "" {
				return false, s + " has no container"
			}
			out, _ := exec.Command("docker", "inspect", "-f", "{{.State.Health.Status}}", c).Output()
			if st := strings.TrimSpace(string(out)); st != "healthy" {
				return false, s + " is " + st
			}
		}
		return true, ""
	})
}

func (e *env) call(method, url string, body any, hdr ...string) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

type clusterView struct {
	Leader string `json:"leader"`
	Nodes  []struct {
		ID           string `json:"id"`
		Healthy      bool   `json:"healthy"`
		AppliedIndex uint64 `json:"appliedIndex"`
		Role         string `json:"role"`
	} `json:"nodes"`
}

func (e *env) cluster(svc string) (clusterView, error) {
	var c clusterView
	code, out, err := e.call("GET", e.url(svc)+"/v1/cluster", nil)
	if err != nil || code != 200 {
		return c, fmt.Errorf("%d %v %s", code, err, out)
	}
	return c, json.Unmarshal(out, &c)
}

// leader asks the voters in svcs until one names a leader among them.
func (e *env) leader(svcs ...string) string {
	e.t.Helper()
	var l string
	within(e.t, 30*time.Second, "a leader", func() (bool, string) {
		for _, s := range svcs {
			c, err := e.cluster(s)
			if err == nil && c.Leader != "" {
				for _, x := range svcs {
					if x == c.Leader {
						l = c.Leader
						return true, ""
					}
				}
			}
		}
		return false, "no leader among " + strings.Join(svcs, ",")
	})
	return l
}

// setup creates queue q and source q (no verification, dedup on
// X-Event-Id) through the published API port.
func (e *env) setup(q string) {
	e.t.Helper()
	within(e.t, 30*time.Second, "queue "+q, func() (bool, string) {
		code, out, err := e.call("PUT", e.api+"/v1/queues/"+q, map[string]any{"visibilityTimeout": "60s"})
		return err == nil && code/100 == 2, fmt.Sprintf("%d %v %s", code, err, out)
	})
	within(e.t, 30*time.Second, "source "+q, func() (bool, string) {
		code, out, err := e.call("PUT", e.api+"/v1/sources/"+q, map[string]any{
			"queues": []string{q}, "verify": map[string]any{"type": "none"}, "dedup": map[string]any{"key": "header:X-Event-Id"}})
		return err == nil && code/100 == 2, fmt.Sprintf("%d %v %s", code, err, out)
	})
	// The ingest node learns sources by heartbeat: wait until it accepts.
	within(e.t, 30*time.Second, "ingest accepts "+q, func() (bool, string) {
		code, out, err := e.call("POST", e.ingest+"/hooks/"+q, `{}`, "X-Event-Id", "warmup")
		return err == nil && code/100 == 2, fmt.Sprintf("%d %v %s", code, err, out)
	})
}

// load posts webhooks with unique event ids to the ingest node, retrying
// each until 2xx (dedup makes retries safe) for up to 30s.
type load struct {
	e            *env
	q            string
	sent, failed atomic.Int64
	mu           sync.Mutex
	ok           map[string]bool
	okAt         []okTime
	stop         chan struct{}
	wg           sync.WaitGroup
	next         atomic.Int64
}

type okTime struct{ sent, done time.Time }

func (e *env) startLoad(q string, workers int) *load {
	l := &load{e: e, q: q, ok: map[string]bool{}, stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.post(fmt.Sprintf("%s-%d", q, l.next.Add(1)))
			}
		}()
	}
	return l
}

func (l *load) post(ev string) {
	l.sent.Add(1)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		t0 := time.Now()
		code, _, err := l.e.call("POST", l.e.ingest+"/hooks/"+l.q, `{"ev":"`+ev+`"}`, "X-Event-Id", ev, "Content-Type", "application/json")
		if err == nil && code/100 == 2 {
			l.mu.Lock()
			l.ok[ev] = true
			l.okAt = append(l.okAt, okTime{t0, time.Now()})
			l.mu.Unlock()
			return
		}
		l.failed.Add(1)
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
}

func (l *load) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ok)
}

// failover waits until a request sent after t (the fault in effect) is
// 2xx'd, and returns the longest stretch from t until then in which no
// request got a 2xx: how long the fault stopped ingest.
func (l *load) failover(t time.Time) time.Duration {
	var end time.Time
	within(l.e.t, 60*time.Second, "a 2xx after the fault", func() (bool, string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, o := range l.okAt {
			if o.sent.After(t) {
				end = o.done
				return true, ""
			}
		}
		return false, ""
	})
	l.mu.Lock()
	var done []time.Time
	for _, o := range l.okAt {
		if !o.done.Before(t) && !o.done.After(end) {
			done = append(done, o.done)
		}
	}
	l.mu.Unlock()
	sort.Slice(done, func(i, j int) bool { return done[i].Before(done[j]) })
	worst, prev := time.Duration(0), t
	for _, d := range done {
		worst = max(worst, d.Sub(prev))
		prev = d
	}
	return worst
}

// drain leases (auto-ack) everything in q through voter svc and counts
// deliveries per event id.
func (e *env) drain(svc, q string) map[string]int {
	e.t.Helper()
	got := map[string]int{}
	base := e.url(svc)
	for empty := 0; empty < 2; {
		code, out, err := e.call("POST", base+"/v1/queues/"+q+"/lease", map[string]any{"max": 500, "wait": "1s", "autoAck": true})
		if err != nil || code != 200 {
			e.t.Fatalf("lease %s via %s: %d %v %s", q, svc, code, err, out)
		}
		var res struct {
			Messages []struct {
				Meta struct {
					Headers map[string]string `json:"headers"`
				} `json:"meta"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			e.t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range res.Messages {
			got[m.Meta.Headers["X-Event-Id"]]++
		}
	}
	return got
}

// report drains q through svc, prints the fault's line and fails on a
// lost 2xx'd message.
func (e *env) report(fault, svc string, l *load, failover time.Duration) {
	e.t.Helper()
	got := e.drain(svc, l.q)
	delete(got, "warmup")
	lost, dup := 0, 0
	for ev := range l.ok {
		if got[ev] == 0 {
			lost++
		}
	}
	for _, n := range got {
		if n > 1 {
			dup += n - 1
		}
	}
	fo := "-"
	if failover > 0 {
		fo = failover.Round(10 * time.Millisecond).String()
	}
	line := fmt.Sprintf("%-16s failover %-8s sent %5d  2xx'd %5d  delivered %5d  duplicated %d  lost %d  (retried posts %d)",
		fault, fo, l.sent.Load(), len(l.ok), len(got), dup, lost, l.failed.Load())
	fmt.Println("FAULT " + line)
	e.t.Log(line)
	if lost > 0 {
		e.t.Errorf("%s: %d messages 2xx'd were not delivered", fault, lost)
	}
}

// inNetns runs curl inside a container's network namespace (it may be
// cut off from every network) against its own listener, and returns the
// HTTP status.
func (e *env) inNetns(svc, method, path, body string) string {
	pid := docker(e.t, "inspect", "-f", "{{.State.Pid}}", e.container(svc))
	args := []string{"-t", pid, "-n", "curl", "-sk", "-m", "20", "-o", "/dev/null", "-w", "%{http_code}", "-X", method,
		"-H", "Authorization: Bearer " + e.token, "-H", "X-Event-Id: isolated-" + fmt.Sprint(time.Now().UnixNano())}
	if body != "" {
		args = append(args, "-H", "Content-Type: application/json", "--data", body)
	}
	out, _ := exec.Command("nsenter", append(args, "https://127.0.0.1:8080"+path)...).Output()
	return strings.TrimSpace(string(out))
}

func TestComposeClusterUnderFaults(t *testing.T) {
	e := newEnv(t)
	voters := []string{"n1", "n2", "n3"}

	t.Run("ingest then consume from any voter", func(t *testing.T) {
		e.t = t
		e.setup("basic")
		l := e.startLoad("basic", 2)
		within(t, 30*time.Second, "60 messages", func() (bool, string) { return l.acked() >= 60, "" })
		l.halt()
		got := map[string]int{}
		for _, v := range voters { // 20 from each voter, the rest from n3
			code, out, err := e.call("POST", e.url(v)+"/v1/queues/basic/lease", map[string]any{"max": 20, "autoAck": true})
			if err != nil || code != 200 {
				t.Fatalf("lease via %s: %d %v %s", v, code, err, out)
			}
			var res struct {
				Messages []struct {
					Meta struct {
						Headers map[string]string `json:"headers"`
					} `json:"meta"`
				} `json:"messages"`
			}
			json.Unmarshal(out, &res)
			if len(res.Messages) == 0 {
				t.Fatalf("nothing leased via %s", v)
			}
			for _, m := range res.Messages {
				got[m.Meta.Headers["X-Event-Id"]]++
			}
		}
		for ev, n := range e.drain("n3", "basic") {
			got[ev] += n
		}
		for ev := range l.ok {
			if got[ev] == 0 {
				t.Errorf("%s 2xx'd through the ingest node, never delivered", ev)
			}
		}
		dup := 0
		for _, n := range got {
			dup += n - 1
		}
		line := fmt.Sprintf("%-16s failover %-8s sent %5d  2xx'd %5d  delivered %5d  duplicated %d  (leased from n1, n2 and n3)",
			"consume-any", "-", l.sent.Load(), len(l.ok), len(got), dup)
		fmt.Println("FAULT " + line)
		t.Log(line)
	})

	t.Run("leader partitioned", func(t *testing.T) {
		e.t = t
		e.setup("partition")
		old := e.leader(voters...)
		var rest []string
		for _, v := range voters {
			if v != old {
				rest = append(rest, v)
			}
		}
		l := e.startLoad("partition", 4)
		within(t, 30*time.Second, "load running", func() (bool, string) { return l.acked() >= 50, "" })
		docker(t, "network", "disconnect", e.network(), e.container(old))
		cut := time.Now()
		newLeader := e.leader(rest...)
		fo := l.failover(cut)
		t.Logf("partitioned %s; %s leads after the cut", old, newLeader)
		before := l.acked()
		within(t, 30*time.Second, "majority keeps accepting", func() (bool, string) { return l.acked() >= before+100, "" })
		// The isolated node answers only 503: writes, consumes and readiness.
		within(t, 30*time.Second, "isolated node answers 503", func() (bool, string) {
			s := e.inNetns(old, "GET", "/readyz", "")
			return s == "503", "readyz " + s
		})
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/hooks/partition", `{"isolated":true}`},
			{"POST", "/v1/queues/partition/lease", `{"max":1}`},
			{"GET", "/v1/queues/partition/next", ""},
			{"PUT", "/v1/queues/other", `{}`},
		} {
			if s := e.inNetns(old, c.method, c.path, c.body); s != "503" {
				t.Errorf("isolated %s: %s %s = %s, want 503", old, c.method, c.path, s)
			}
		}
		docker(t, "network", "connect", "--alias", old, e.network(), e.container(old))
		l.halt()
		within(t, 60*time.Second, old+" converges", func() (bool, string) {
			c, err := e.cluster(newLeader)
			if err != nil {
				return false, err.Error()
			}
			idx := map[string]uint64{}
			for _, n := range c.Nodes {
				if n.Role == "voter" {
					if !n.Healthy {
						return false, n.ID + " unhealthy"
					}
					idx[n.ID] = n.AppliedIndex
				}
			}
			return len(idx) == 3 && idx[old] == idx[newLeader], fmt.Sprint(idx)
		})
		e.report("partition", old, l, fo)
	})

	t.Run("voter killed", func(t *testing.T) {
		e.t = t
		e.setup("kill")
		victim := e.leader(voters...)
		l := e.startLoad("kill", 4)
		within(t, 30*time.Second, "load running", func() (bool, string) { return l.acked() >= 50, "" })
		c := e.container(victim)
		docker(t, "kill", c)
		kill := time.Now()
		fo := l.failover(kill)
		before := l.acked()
		within(t, 30*time.Second, "accepting after the kill", func() (bool, string) { return l.acked() >= before+100, "" })
		l.halt()
		if st := docker(t, "inspect", "-f", "{{.State.Running}}", c); st != "true" {
			docker(t, "start", c)
		}
		e.waitHealthy(victim)
		e.report("kill-leader", victim, l, fo)
	})

	t.Run("rolling restart", func(t *testing.T) {
		e.t = t
		e.setup("rolling")
		l := e.startLoad("rolling", 4)
		within(t, 30*time.Second, "load running", func() (bool, string) { return l.acked() >= 50, "" })
		var worst time.Duration
		for _, v := range voters {
			if e.leader(voters...) == v {
				code, out, err := e.call("POST", e.url(v)+"/v1/cluster/transfer-leadership", nil)
				if err != nil || code/100 != 2 {
					t.Fatalf("transfer leadership from %s: %d %v %s", v, code, err, out)
				}
				within(t, 20*time.Second, "leadership moved off "+v, func() (bool, string) {
					l := e.leader(voters...)
					return l != v, l
				})
			}
			t0 := time.Now()
			docker(t, "restart", "-t", "20", e.container(v))
			e.waitHealthy(v)
			if d := l.failover(t0); d > worst {
				worst = d
			}
		}
		l.halt()
		e.report("rolling-restart", "n2", l, worst)
	})

	t.Run("down and up with the same volumes", func(t *testing.T) {
		e.t = t
		e.setup("downup")
		l := e.startLoad("downup", 4)
		within(t, 30*time.Second, "300 messages", func() (bool, string) { return l.acked() >= 300, "" })
		l.halt()
		e.must("down", "-t", "20")
		t0 := time.Now()
		e.must("up", "-d")
		e.waitHealthy("n1")
		// Found by this test: after a whole-cluster restart the followers'
		// /readyz stayed 503 until the next command entry (the leader's
		// no-op and barrier entries counted in its commit index but never
		// reach a follower's state machine). Fixed in e669335 (heartbeats
		// answer the leader's applied index); this write predates the fix
		// and can go once a run without it passes.
		within(t, 30*time.Second, "a write after up", func() (bool, string) {
			code, out, err := e.call("PUT", e.api+"/v1/queues/after-up", map[string]any{})
			return err == nil && code/100 == 2, fmt.Sprintf("%d %v %s", code, err, out)
		})
		e.waitHealthy("n1", "n2", "n3", "ingest")
		e.leader(voters...)
		e.report("down-up", "n1", l, time.Since(t0))
	})
}
