package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is one `hookq bench` run: what the final table prints and what
// --json writes.
type Report struct {
	Mode    string         `json:"mode"` // ingest | consume | e2e | cluster
	Started time.Time      `json:"started"`
	Env     string         `json:"env"`
	Phases  []*PhaseReport `json:"phases"`
	Cluster *ClusterInfo   `json:"cluster,omitempty"`
}

// PhaseReport is one phase (ingest or consume). Counts without "warmup"
// are the measured part only; MsgsPerS is Messages / Seconds.
type PhaseReport struct {
	Name           string           `json:"name"` // ingest | consume
	URL            string           `json:"url"`
	Settings       Settings         `json:"settings"`
	Messages       int64            `json:"messages"`
	WarmupMessages int64            `json:"warmup_messages"`
	Errors         int64            `json:"errors"`
	WarmupErrors   int64            `json:"warmup_errors"`
	ErrorKinds     map[string]int64 `json:"error_kinds,omitempty"` // warmup included
	Planned        int64            `json:"planned,omitempty"`     // open loop: sends due before the end (warmup included)
	Unsent         int64            `json:"unsent,omitempty"`      // open loop: of those, never sent (the rate was not kept)
	Redelivered    int64            `json:"redelivered,omitempty"` // consume: deliveries with attempt > 1
	ClampedSamples int64            `json:"clamped_samples,omitempty"`
	Capped         bool             `json:"capped,omitempty"` // consume: its time cap ended it before its count
	Interrupted    bool             `json:"interrupted,omitempty"`
	Seconds        float64          `json:"seconds"`
	MsgsPerS       float64          `json:"msgs_per_s"`
	Latency        []LatencySummary `json:"latency"`
	CPU            *PhaseCPU        `json:"cpu,omitempty"`
	// cluster: Raft entries the leader proposed during the phase and the
	// operations they carried (hookq_raft_apply_batch_size), warmup included.
	RaftEntries int64   `json:"raft_entries,omitempty"`
	OpsPerEntry float64 `json:"ops_per_entry,omitempty"`
}

// Total is every message of the phase, warmup included.
func (p *PhaseReport) Total() int64 { return p.Messages + p.WarmupMessages }

// Settings are the knobs a phase ran with.
type Settings struct {
	Provider    string  `json:"provider,omitempty"`
	Size        int     `json:"size,omitempty"`
	Mode        string  `json:"mode,omitempty"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate"` // requests/s; 0 = closed loop
	Batch       int     `json:"batch,omitempty"`
	MaxInFlight int     `json:"max_in_flight,omitempty"`
	Duration    string  `json:"duration"`
	Warmup      string  `json:"warmup"`
}

func (s Settings) String() string {
	var parts []string
	if s.Provider != "" {
		parts = append(parts, s.Provider, fmt.Sprintf("%d B", s.Size), fmt.Sprintf("%d conns", s.Concurrency))
		if s.Rate > 0 {
			parts = append(parts, fmt.Sprintf("open loop %s/s", thousands(s.Rate)))
		} else {
			parts = append(parts, "closed loop")
		}
	}
	if s.Mode != "" {
		parts = append(parts, s.Mode, fmt.Sprintf("batch %d", s.Batch))
		if s.Mode == ModeSSE {
			parts = append(parts, fmt.Sprintf("maxInFlight %d", s.MaxInFlight), fmt.Sprintf("%d streams", s.Concurrency))
		} else {
			parts = append(parts, fmt.Sprintf("%d workers", s.Concurrency))
		}
	}
	return strings.Join(parts, ", ")
}

// PhaseCPU is the CPU time the cluster's nodes used during a phase, from
// utime+stime of /proc/<pid>/stat, divided by the phase's messages
// (warmup included, since the CPU window covers the whole phase).
type PhaseCPU struct {
	Messages       int64     `json:"messages"`
	WallSeconds    float64   `json:"wall_seconds"`
	NodesUsPerMsg  float64   `json:"nodes_us_per_msg"` // all nodes summed
	Nodes          []NodeCPU `json:"nodes"`
	ClientSeconds  float64   `json:"client_cpu_seconds"` // this bench process
	ClientUsPerMsg float64   `json:"client_us_per_msg"`
}

// NodeCPU is one node's share of a PhaseCPU.
type NodeCPU struct {
	ID         string  `json:"id"`
	Role       string  `json:"role"` // leader | follower
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Cores      float64 `json:"cores"` // CPU seconds per wall second
	UsPerMsg   float64 `json:"us_per_msg"`
}

// ClusterInfo describes the cluster `bench cluster` ran against.
type ClusterInfo struct {
	Nodes  []ClusterNode `json:"nodes"`
	Leader string        `json:"leader"`
	Via    string        `json:"via"`             // the node the clients talked to
	Queue  *QueueStats   `json:"queue,omitempty"` // the queue's stats after the run
}

// ClusterNode is one process `bench cluster` started.
type ClusterNode struct {
	ID      string `json:"id"`
	PID     int    `json:"pid"`
	HTTP    string `json:"http"`
	DataDir string `json:"data_dir"`
}

// usPer is micro-seconds per message, rounded to 0.1.
func usPer(seconds float64, msgs int64) float64 {
	if msgs <= 0 {
		return 0
	}
	return float64(int64(seconds/float64(msgs)*1e7+0.5)) / 10
}

// envLine describes the machine and the Go runtime.
func envLine() string {
	model := "?"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close() // #nosec G104 -- Close of a read-only /proc file; nothing to recover
	}
	return fmt.Sprintf("nproc=%d cpu=%q GOMAXPROCS=%d %s %s/%s", runtime.NumCPU(), model, runtime.GOMAXPROCS(0),
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// NewReport starts the report of a run of mode, made now on this machine.
func NewReport(mode string, phases ...*PhaseReport) *Report {
	return &Report{Mode: mode, Started: time.Now().UTC(), Env: envLine(), Phases: phases}
}

// WriteJSON writes r, indented, to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteTable prints r's final tables: throughput, latency percentiles in
// milliseconds, and for a cluster run the nodes' CPU per message.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "hookq bench %s  %s  %s\n", r.Mode, r.Started.Format("2006-01-02 15:04 UTC"), r.Env)
	if c := r.Cluster; c != nil {
		var ns []string
		for _, n := range c.Nodes {
			ns = append(ns, fmt.Sprintf("%s pid %d http %s", n.ID, n.PID, n.HTTP))
		}
		fmt.Fprintf(w, "cluster: %s; leader %s; clients talk to %s\n", strings.Join(ns, ", "), c.Leader, c.Via)
		if q := c.Queue; q != nil {
			fmt.Fprintf(w, "queue after the run: enqueued %d, delivered %d, acked %d, ready %d, inflight %d, delayed %d, dead-lettered %d\n",
				q.Enqueued, q.Delivered, q.Acked, q.Ready, q.Inflight, q.Delayed, q.DeadLettered)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\tmessages\twarmup\terrors\tseconds\tmsg/s\tsettings")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%s\t%s\n", p.Name, p.Messages, p.WarmupMessages, p.Errors, p.Seconds, thousands(p.MsgsPerS), p.Settings)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range r.Phases {
		for _, note := range p.notes() {
			fmt.Fprintf(w, "  %s: %s\n", p.Name, note)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\top (latency, ms)\tcount\tmean\tp50\tp90\tp99\tp99.9\tmax\t")
	for _, p := range r.Phases {
		for _, l := range p.Latency {
			if l.Count == 0 {
				fmt.Fprintf(tw, "%s\t%s\t0\t-\t-\t-\t-\t-\t-\t\n", p.Name, l.Op)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", p.Name, l.Op, l.Count, l.MeanUs/1000,
				float64(l.P50Us)/1000, float64(l.P90Us)/1000, float64(l.P99Us)/1000, float64(l.P999Us)/1000, float64(l.MaxUs)/1000)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return r.writeCPU(w)
}

func (r *Report) writeCPU(w io.Writer) error {
	var rows []*PhaseReport
	for _, p := range r.Phases {
		if p.CPU != nil {
			rows = append(rows, p)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nCPU per message, µs (utime+stime of /proc/<pid>/stat over the whole phase, warmup included; cores = CPU s / wall s)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "phase\tmessages\twall s\t"
	for _, n := range rows[0].CPU.Nodes {
		head += fmt.Sprintf("%s (%s)\t", n.ID, n.Role)
	}
	fmt.Fprintln(tw, head+"3 nodes summed\tbench client\t")
	for _, p := range rows {
		c := p.CPU
		line := fmt.Sprintf("%s\t%d\t%.2f\t", p.Name, c.Messages, c.WallSeconds)
		for _, n := range c.Nodes {
			line += fmt.Sprintf("%.1f (%.2f cores)\t", n.UsPerMsg, n.Cores)
		}
		fmt.Fprintln(tw, line+fmt.Sprintf("%.1f\t%.1f\t", c.NodesUsPerMsg, c.ClientUsPerMsg))
	}
	return tw.Flush()
}

// notes are the things a reader of the table must not miss.
func (p *PhaseReport) notes() []string {
	var out []string
	if len(p.ErrorKinds) > 0 {
		keys := make([]string, 0, len(p.ErrorKinds))
		for k := range p.ErrorKinds {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, p.ErrorKinds[k]))
		}
		out = append(out, "errors (warmup included): "+strings.Join(parts, ", "))
	}
	if p.Unsent > 0 {
		out = append(out, fmt.Sprintf("%d sends were due but never sent: the target rate was not sustained", p.Unsent))
	}
	if p.Redelivered > 0 {
		out = append(out, fmt.Sprintf("%d deliveries were redeliveries (attempt > 1)", p.Redelivered))
	}
	if p.ClampedSamples > 0 {
		out = append(out, fmt.Sprintf("%d latencies over 60 s recorded as 60 s", p.ClampedSamples))
	}
	if p.RaftEntries > 0 {
		out = append(out, fmt.Sprintf("group commit: %d Raft entries, %.1f operations per entry on average (leader's hookq_raft_apply_batch_size)", p.RaftEntries, p.OpsPerEntry))
	}
	if p.Capped {
		out = append(out, "stopped by its time cap before every expected message was consumed")
	}
	if p.Interrupted {
		out = append(out, "interrupted")
	}
	return out
}
