package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ClusterConfig is `hookq bench cluster`: a local 3-voter cluster, an
// ingest phase, then a consume phase that settles everything ingested.
// The Target, Secret and Count fields of Ingest and Consume are filled in
// by RunCluster; Consume.Duration is the consume phase's time cap and
// Consume.Warmup is not used (the ingest phase warmed the cluster, and the
// consume phase measures the whole drain).
type ClusterConfig struct {
	Binary  string // hookq binary to run as `serve` (the running one)
	Ingest  IngestConfig
	Consume ConsumeConfig
	Via     string // leader | follower: the node every client talks to
	Keep    bool   // keep the data dirs and node logs
	Queues  int    // > 1: that many queues, each with its own source (Target.Queues)
	// HalfRate adds an open-loop ingest phase (PhaseIngestHalf) at half
	// the rate the closed-loop ingest phase reached, before consume.
	HalfRate bool
	// ProfileDir, when set, starts the nodes with --pprof-addr and saves a
	// CPU profile of the leader and of one follower for each phase there
	// (ingest.pprof and ingest-follower.pprof for the measured part of
	// ingest, consume.pprof and consume-follower.pprof for the first
	// ProfileConsume of consume).
	ProfileDir     string
	ProfileConsume time.Duration
	Progress       io.Writer
	Logger         *slog.Logger
}

const clusterSize = 3

// PhaseIngestHalf names the open-loop ingest phase at half the closed-loop
// rate (ClusterConfig.HalfRate).
const PhaseIngestHalf = "ingest-half"

func (c *ClusterConfig) validate() error {
	if c.Binary == "" {
		return invalid("no hookq binary to start")
	}
	if c.Via != "leader" && c.Via != "follower" {
		return invalid("--via %q: want leader or follower", c.Via)
	}
	// The target is filled in later; check everything else now.
	in, out := c.Ingest, c.Consume
	in.Target = Target{URL: "http://127.0.0.1:1", Source: "bench", Queue: "bench"}
	out.Target = Target{URL: "http://127.0.0.1:1", Token: "t", Source: "bench", Queue: "bench"}
	out.GRPCAddr = "127.0.0.1:1"
	in.Secret = NewSecret(in.Provider)
	if err := in.validate(); err != nil {
		return err
	}
	return out.validate()
}

// RunCluster starts three `hookq serve` voters on loopback in a temporary
// directory, creates the queue and a signed source, runs the ingest phase
// and then the consume phase through one node, measures the CPU every node
// used in each phase, and stops the nodes it started. The first error
// from a node is returned with the end of its log.
func RunCluster(ctx context.Context, cfg ClusterConfig) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := logger(cfg.Logger)
	dir, err := os.MkdirTemp("", "hookq-bench-")
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if cfg.Keep {
		log.Info("keeping node data and logs", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	token := randomHex(16)
	tokenFile := filepath.Join(dir, "admin-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	nodes, err := newNodes(dir, clusterSize)
	if err != nil {
		return nil, err
	}
	if cfg.ProfileDir != "" {
		addrs, err := freeAddrs(len(nodes))
		if err != nil {
			return nil, err
		}
		for i, n := range nodes {
			n.pprof = addrs[i]
		}
	}
	var peers []string
	for _, n := range nodes {
		peers = append(peers, n.id+"="+n.raft)
	}
	defer stopNodes(nodes, log)
	for _, n := range nodes {
		if err := n.start(cfg.Binary, strings.Join(peers, ","), tokenFile); err != nil {
			return nil, err
		}
		log.Info("node started", "node", n.id, "pid", n.pid(), "http", n.http, "raft", n.raft, "log", n.logPath)
	}
	for _, n := range nodes {
		if err := n.waitReady(ctx, 60*time.Second); err != nil {
			return nil, err
		}
	}
	leader, err := findLeader(ctx, nodes, token)
	if err != nil {
		return nil, err
	}
	via := leader
	if cfg.Via == "follower" {
		for _, n := range nodes {
			if n != leader {
				via = n
				break
			}
		}
	}
	r := NewReport("cluster")
	r.Cluster = &ClusterInfo{Leader: leader.id, Via: via.id}
	for _, n := range nodes {
		r.Cluster.Nodes = append(r.Cluster.Nodes, ClusterNode{ID: n.id, PID: n.pid(), HTTP: n.http, DataDir: n.dir})
	}

	t := Target{URL: via.url(), Token: token, Source: "bench", Queue: "bench", Queues: cfg.Queues}
	in := cfg.Ingest
	in.Target, in.Secret, in.Progress, in.Logger = t, NewSecret(in.Provider), nil, cfg.Logger
	if err := setupAll(ctx, Target{URL: leader.url(), Token: token, Source: t.Source, Queue: t.Queue, Queues: t.Queues}, in.Provider, in.Secret); err != nil {
		return nil, err
	}
	roles := func(n *node) string {
		if n == leader {
			return "leader"
		}
		return "follower"
	}

	// Ingest.
	fmt.Fprintf(progressOr(cfg.Progress), "ingest: %s through %s (%s)\n", phaseSettings(in), via.id, roles(via))
	cpu0 := sampleCPU(nodes)
	ops0 := scrapeEntryOps(ctx, leader, token)
	start := time.Now()
	g, err := newIngester(in, realClock{}, start)
	if err != nil {
		return nil, err
	}
	stop := startProgress(cfg.Progress, start, progressLine{"ingest", g.rec})
	follower := nodes[0]
	if follower == leader {
		follower = nodes[1]
	}
	prof := startProfile(ctx, cfg.ProfileDir, leader, "ingest", in.Warmup, in.Duration, log)
	profF := startProfile(ctx, cfg.ProfileDir, follower, "ingest-follower", in.Warmup, in.Duration, log)
	ip := g.runWorkers(ctx)
	stop()
	prof()
	profF()
	ip.CPU = cpuReport(nodes, roles, cpu0, sampleCPU(nodes), time.Since(start), ip.Total())
	ip.RaftEntries, ip.OpsPerEntry = scrapeEntryOps(ctx, leader, token).since(ops0)
	r.Phases = append(r.Phases, ip)
	if err := checkAlive(nodes); err != nil {
		return r, err
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	ingested := ip.Total()

	// Open loop at half the rate the closed loop reached: the latency a
	// cluster with headroom gives.
	if cfg.HalfRate && ip.MsgsPerS > 0 {
		h := in
		h.Rate = ip.MsgsPerS / 2
		fmt.Fprintf(progressOr(cfg.Progress), "%s: %s through %s (%s)\n", PhaseIngestHalf, phaseSettings(h), via.id, roles(via))
		cpu0, ops0 = sampleCPU(nodes), scrapeEntryOps(ctx, leader, token)
		start = time.Now()
		g, err := newIngester(h, realClock{}, start)
		if err != nil {
			return r, err
		}
		stop := startProgress(cfg.Progress, start, progressLine{PhaseIngestHalf, g.rec})
		hp := g.runWorkers(ctx)
		stop()
		hp.Name = PhaseIngestHalf
		hp.CPU = cpuReport(nodes, roles, cpu0, sampleCPU(nodes), time.Since(start), hp.Total())
		hp.RaftEntries, hp.OpsPerEntry = scrapeEntryOps(ctx, leader, token).since(ops0)
		r.Phases = append(r.Phases, hp)
		ingested += hp.Total()
		if err := checkAlive(nodes); err != nil {
			return r, err
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
	}

	// Consume everything ingest got in.
	out := cfg.Consume
	out.Target, out.Count, out.Warmup, out.Progress, out.Logger = t, ingested, 0, nil, cfg.Logger
	out.GRPCAddr = via.grpc
	fmt.Fprintf(progressOr(cfg.Progress), "consume: %d messages, %s through %s (%s), at most %v\n",
		out.Count, out.Mode, via.id, roles(via), out.Duration)
	cpu0 = sampleCPU(nodes)
	ops0 = scrapeEntryOps(ctx, leader, token)
	start = time.Now()
	c, err := newConsumer(out, realClock{}, start, false, start.Add(out.Duration))
	if err != nil {
		return r, err
	}
	if out.Count > 0 {
		stop = startProgress(cfg.Progress, start, progressLine{"consume", c.rec})
		prof := startProfile(ctx, cfg.ProfileDir, leader, "consume", 0, cmp.Or(cfg.ProfileConsume, 5*time.Second), log)
		profF := startProfile(ctx, cfg.ProfileDir, follower, "consume-follower", 0, cmp.Or(cfg.ProfileConsume, 5*time.Second), log)
		cp := c.runWorkers(ctx)
		stop()
		prof()
		profF()
		cp.CPU = cpuReport(nodes, roles, cpu0, sampleCPU(nodes), time.Since(start), cp.Total())
		cp.RaftEntries, cp.OpsPerEntry = scrapeEntryOps(ctx, leader, token).since(ops0)
		r.Phases = append(r.Phases, cp)
	}
	if err := checkAlive(nodes); err != nil {
		return r, err
	}
	var qs QueueStats
	for i := range max(1, int64(t.Queues)) {
		_, q := t.names(i)
		s, err := GetQueueStats(ctx, Target{URL: leader.url(), Token: token, Queue: q})
		if err != nil {
			return r, err
		}
		qs.add(s)
	}
	r.Cluster.Queue = &qs
	return r, nil
}

func progressOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func phaseSettings(in IngestConfig) string {
	return Settings{Provider: in.Provider, Size: in.Size, Concurrency: in.Concurrency, Rate: in.Rate}.String() +
		fmt.Sprintf(", %v + %v warmup", in.Duration, in.Warmup)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// findLeader asks the nodes who leads until one answers.
func findLeader(ctx context.Context, nodes []*node, token string) (*node, error) {
	c := newHTTPClient(1, 5*time.Second)
	defer closeIdle(c)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			var v clusterView
			if call(ctx, c, http.MethodGet, n.url()+"/v1/cluster", token, nil, &v) != nil {
				continue
			}
			for _, m := range nodes {
				if m.id == v.Leader {
					return m, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("cluster: no leader within 30s")
}

func checkAlive(nodes []*node) error {
	for _, n := range nodes {
		if !n.alive() {
			return fmt.Errorf("%w: %s during the run:\n%s", ErrNodeExited, n.id, n.logTail())
		}
	}
	return nil
}

// stopNodes stops every node we started, all at once.
func stopNodes(nodes []*node, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n.cmd == nil {
			continue
		}
		wg.Go(func() {
			n.stop(20 * time.Second)
			log.Info("node stopped", "node", n.id, "pid", n.pid())
		})
	}
	wg.Wait()
}

// cpuSample is the CPU time of each node (by index) and of this process;
// a negative value means it could not be read.
type cpuSample struct {
	nodes []time.Duration
	self  time.Duration
}

func sampleCPU(nodes []*node) cpuSample {
	s := cpuSample{nodes: make([]time.Duration, len(nodes))}
	for i, n := range nodes {
		d, err := procCPU(n.pid())
		if err != nil {
			d = -1
		}
		s.nodes[i] = d
	}
	if d, err := procCPU(os.Getpid()); err == nil {
		s.self = d
	} else {
		s.self = -1
	}
	return s
}

// cpuReport divides what each node used between a and b by msgs; nil
// when /proc could not be read.
func cpuReport(nodes []*node, role func(*node) string, a, b cpuSample, wall time.Duration, msgs int64) *PhaseCPU {
	c := &PhaseCPU{Messages: msgs, WallSeconds: round2(wall.Seconds())}
	var sum float64
	for i, n := range nodes {
		if a.nodes[i] < 0 || b.nodes[i] < 0 {
			return nil
		}
		s := (b.nodes[i] - a.nodes[i]).Seconds()
		sum += s
		c.Nodes = append(c.Nodes, NodeCPU{ID: n.id, Role: role(n), PID: n.pid(), CPUSeconds: round2(s),
			Cores: round2(s / wall.Seconds()), UsPerMsg: usPer(s, msgs)})
	}
	c.NodesUsPerMsg = usPer(sum, msgs)
	if a.self >= 0 && b.self >= 0 {
		s := (b.self - a.self).Seconds()
		c.ClientSeconds, c.ClientUsPerMsg = round2(s), usPer(s, msgs)
	}
	return c
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// startProfile saves a CPU profile of n (started with --pprof-addr) from
// after delay for d into dir/<name>.pprof, in the background; the returned
// function waits for it. Nothing happens when dir is empty. A failure is
// logged: the profile is a side product of the run.
func startProfile(ctx context.Context, dir string, n *node, name string, delay, d time.Duration, log *slog.Logger) (wait func()) {
	if dir == "" || n.pprof == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		secs := max(1, int(d.Seconds()))
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", n.pprof, secs)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			log.Warn("profile", "err", err)
			return
		}
		c := &http.Client{Timeout: time.Duration(secs)*time.Second + 30*time.Second}
		resp, err := c.Do(req)
		if err != nil {
			log.Warn("profile", "node", n.id, "err", err)
			return
		}
		defer resp.Body.Close()
		path := filepath.Join(dir, name+".pprof")
		f, err := os.Create(path) // #nosec G304 -- a file in the operator's --profile-dir
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			log.Warn("profile", "node", n.id, "err", err)
			return
		}
		log.Info("profile saved", "node", n.id, "phase", name, "path", path)
	}()
	return func() { <-done }
}

// entryOps is the leader's hookq_raft_apply_batch_size histogram at one moment:
// operations (sum) and entries (count); ok is false when unread.
type entryOps struct {
	sum, count float64
	ok         bool
}

// since is the number of entries between a and e, and the operations per
// entry among them (0, 0 when either scrape failed).
func (e entryOps) since(a entryOps) (entries int64, perEntry float64) {
	n := e.count - a.count
	if !e.ok || !a.ok || n <= 0 {
		return 0, 0
	}
	return int64(n), float64(int64((e.sum-a.sum)/n*10+0.5)) / 10
}

// scrapeEntryOps reads hookq_raft_apply_batch_size from n's /metrics.
func scrapeEntryOps(ctx context.Context, n *node, token string) entryOps {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url()+"/metrics", nil)
	if err != nil {
		return entryOps{}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	c := newHTTPClient(1, 5*time.Second)
	defer closeIdle(c)
	resp, err := c.Do(req)
	if err != nil {
		return entryOps{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return entryOps{}
	}
	return parseEntryOps(string(b))
}

// parseEntryOps finds the histogram's _sum and _count in a Prometheus
// text exposition.
func parseEntryOps(text string) entryOps {
	var e entryOps
	var haveSum, haveCount bool
	for _, line := range strings.Split(text, "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(val, &v); err != nil {
			continue
		}
		switch name {
		case "hookq_raft_apply_batch_size_sum":
			e.sum, haveSum = v, true
		case "hookq_raft_apply_batch_size_count":
			e.count, haveCount = v, true
		}
	}
	e.ok = haveSum && haveCount
	return e
}

// setupAll creates t's queue and source, or its Queues pairs of them (32
// at a time, so group commit packs them).
func setupAll(ctx context.Context, t Target, provider, secret string) error {
	if t.Queues <= 1 {
		return Setup(ctx, t, provider, secret)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int64)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				one := t
				one.Source, one.Queue = t.names(i)
				if err := Setup(ctx, one, provider, secret); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range int64(t.Queues) {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
