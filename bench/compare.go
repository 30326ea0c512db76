package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// AnchorReport is the -json file of the JetStream anchor
// (../shared/anchors/jetstream-bench: main.go writes it, phaseResult in
// bench.go is one result).
type AnchorReport struct {
	Env        string         `json:"env"`
	Mode       string         `json:"mode"`
	SyncAlways bool           `json:"sync_always"`
	Size       int            `json:"size"`
	Clients    int            `json:"clients"`
	Batch      int            `json:"batch"`
	Runs       int            `json:"runs"`
	Results    []AnchorResult `json:"results"`
}

// AnchorResult is one run of one anchor phase.
type AnchorResult struct {
	Phase    string  `json:"phase"` // sync1 | syncN | async | consume
	Replicas int     `json:"replicas"`
	Run      int     `json:"run"`
	Msgs     int64   `json:"msgs"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	MsgsPerS float64 `json:"msgs_per_s"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	Capped   bool    `json:"capped"`
	Check    string  `json:"check"`
}

// ReadReport reads a --json file of hookq bench.
func ReadReport(path string) (*Report, error) {
	var r Report
	if err := readJSON(path, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ReadAnchor reads the JetStream anchor's -json file.
func ReadAnchor(path string) (*AnchorReport, error) {
	var a AnchorReport
	if err := readJSON(path, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path) // #nosec G304 -- a report the operator names (bench compare --hookq/--anchor)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// anchorPhase is the median of the anchor's runs of one phase at R3.
type anchorPhase struct {
	label        string
	rate, p50Us  float64
	p99Us        float64
	runs         int
	checksFailed bool
}

func (a *AnchorReport) phase(name string) (anchorPhase, bool) {
	var rates, p50, p99 []float64
	out := anchorPhase{}
	for _, r := range a.Results {
		if r.Phase != name || r.Replicas != 3 {
			continue
		}
		rates, p50, p99 = append(rates, r.MsgsPerS), append(p50, r.P50us), append(p99, r.P99us)
		if r.Check != "" && !strings.HasPrefix(r.Check, "ok") {
			out.checksFailed = true
		}
	}
	if len(rates) == 0 {
		return out, false
	}
	out.runs, out.rate, out.p50Us, out.p99Us = len(rates), median(rates), median(p50), median(p99)
	switch name {
	case "syncN":
		out.label = fmt.Sprintf("pub sync, %d clients", a.Clients)
	case "consume":
		out.label = fmt.Sprintf("pull Fetch(%d)+Ack each", a.Batch)
	default:
		out.label = name
	}
	return out, true
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	l := len(s)
	if l%2 == 1 {
		return s[l/2]
	}
	return (s[l/2-1] + s[l/2]) / 2
}

func (r *Report) phase(name string) *PhaseReport {
	for _, p := range r.Phases {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// ratio is a/b formatted, or "—".
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// Compare prints hookq's cluster results next to the JetStream anchor's
// (R3; the median when the anchor ran several times): hookq ingest
// against "pub sync, <clients> clients", hookq consume against "pull
// Fetch(<batch>)+Ack each", with hookq/JetStream ratios, and hookq's node
// CPU per message. a may be nil (the anchor was skipped or failed): why
// says why.
func Compare(w io.Writer, h *Report, a *AnchorReport, why string) error {
	js := "JetStream R3"
	if a != nil {
		if a.SyncAlways {
			js += ", fsync always"
		} else {
			js += ", NATS default fsync"
		}
	}
	fmt.Fprintf(w, "\nhookq vs JetStream (same invocation, same machine)\n")
	fmt.Fprintf(w, "  hookq:     %s  %s\n", h.Started.Format("2006-01-02 15:04 UTC"), h.Env)
	if a != nil {
		fmt.Fprintf(w, "  JetStream: %s, %d B, runs %d\n", a.Env, a.Size, a.Runs)
	} else {
		fmt.Fprintf(w, "  JetStream: skipped (%s)\n", why)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "measure\thookq\t%s\thookq/JetStream\n", js)
	row := func(measure string, hp *PhaseReport, hLabel, phase string) {
		hv, hs := 0.0, "—"
		if hp != nil {
			hv, hs = hp.MsgsPerS, fmt.Sprintf("%s msg/s (%s)", thousands(hp.MsgsPerS), hLabel)
		}
		av, as := 0.0, "—"
		if a != nil {
			if ap, ok := a.phase(phase); ok {
				av, as = ap.rate, fmt.Sprintf("%s msg/s (%s)", thousands(ap.rate), ap.label)
				if ap.checksFailed {
					as += " CHECK FAILED"
				}
			} else {
				as = "no " + phase + " result"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", measure, hs, as, ratio(hv, av))
		if hp == nil {
			return
		}
		hl := latencyOf(hp, opPost)
		if hl == nil {
			return
		}
		al := "—"
		if a != nil {
			if ap, ok := a.phase(phase); ok && ap.p99Us > 0 {
				al = fmt.Sprintf("%.2f / %.2f", ap.p50Us/1000, ap.p99Us/1000)
			}
		}
		fmt.Fprintf(tw, "  p50 / p99 ms\t%.2f / %.2f\t%s\t\n", float64(hl.P50Us)/1000, float64(hl.P99Us)/1000, al)
	}
	in, out := h.phase("ingest"), h.phase("consume")
	inLabel, outLabel := "", ""
	if in != nil {
		inLabel = fmt.Sprintf("%d conns, %s", in.Settings.Concurrency, in.Settings.Provider)
		if h.Cluster != nil {
			inLabel += ", via " + viaRole(h.Cluster)
		}
	}
	if out != nil {
		outLabel = fmt.Sprintf("%s, batch %d, %d workers", out.Settings.Mode, out.Settings.Batch, out.Settings.Concurrency)
	}
	row("ingest", in, inLabel, "syncN")
	if hp := h.phase(PhaseIngestHalf); hp != nil {
		if l := latencyOf(hp, opPost); l != nil {
			fmt.Fprintf(tw, "ingest p99 at half max rate (open loop, %s/s)\t%.2f ms\t—\t\n", thousands(hp.Settings.Rate), float64(l.P99Us)/1000)
		}
	}
	row("consume (lease + settle, both committed)", out, outLabel, "consume")
	for _, c := range []struct {
		p    *PhaseReport
		verb string
	}{{in, "ingested"}, {out, "consumed"}} {
		if c.p == nil || c.p.CPU == nil {
			continue
		}
		fmt.Fprintf(tw, "node CPU per %s message, 3 nodes summed\t%.0f µs\t—\t\n", c.verb, c.p.CPU.NodesUsPerMsg)
	}
	return tw.Flush()
}

func viaRole(c *ClusterInfo) string {
	if c.Via == c.Leader {
		return "leader"
	}
	return "follower"
}

func latencyOf(p *PhaseReport, op string) *LatencySummary {
	for i := range p.Latency {
		if p.Latency[i].Op == op && p.Latency[i].Count > 0 {
			return &p.Latency[i]
		}
	}
	return nil
}
