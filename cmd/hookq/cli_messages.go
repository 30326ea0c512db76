package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// messageJSON is a message record of GET /v1/queues/{q}/messages[/{id}].
type messageJSON struct {
	MessageID   string            `json:"messageId"`
	Queue       string            `json:"queue"`
	State       string            `json:"state"`
	Source      *string           `json:"source"`
	ReceivedAt  string            `json:"receivedAt"`
	EventID     *string           `json:"eventId"`
	ReplayOf    *string           `json:"replayOf"`
	Attempts    uint32            `json:"attempts"`
	DeadLetter  *deadLetterJSON   `json:"deadLetter"`
	ContentType *string           `json:"contentType"`
	Headers     map[string]string `json:"headers"`
	Encoding    string            `json:"encoding"`
	Payload     string            `json:"payload"`
	Deliveries  []struct {
		DeliveryID string  `json:"deliveryId"`
		Attempt    uint32  `json:"attempt"`
		LeasedAt   string  `json:"leasedAt"`
		SettledAt  *string `json:"settledAt"`
		Outcome    *string `json:"outcome"`
		Reason     *string `json:"reason"`
	} `json:"deliveries"`
}

type deadLetterJSON struct {
	OriginQueue string `json:"originQueue"`
	Reason      string `json:"reason"`
	Attempts    uint32 `json:"attempts"`
	DeadAt      string `json:"deadAt"`
}

func runMessages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newCLIFlags("messages", "messages QUEUE [--state S] [--limit N] [--after ID]\n\nLists a queue's messages, newest first.", stdout, stderr)
	state := fs.String("state", "", "only ready, inflight, delayed or acked messages")
	limit := fs.Int("limit", 20, "messages per page, 1..1000")
	after := fs.String("after", "", "the page after this messageId (the \"next\" of a previous page)")
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(*limit)}}
	if *state != "" {
		q.Set("state", *state)
	}
	if *after != "" {
		q.Set("after", *after)
	}
	c, err := g.api()
	if err != nil {
		return err
	}
	raw, _, err := c.raw(ctx, "GET", "/v1/queues/"+pathEscape(pos[0])+"/messages?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(raw)
	}
	page, err := decode[struct {
		Messages []messageJSON `json:"messages"`
		Next     string        `json:"next"`
	}](raw)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(page.Messages))
	for _, m := range page.Messages {
		rows = append(rows, []string{m.MessageID, m.State, m.ReceivedAt, strconv.FormatUint(uint64(m.Attempts), 10),
			ptr(m.Source), ptr(m.EventID), ptr(m.ReplayOf), ptr(m.ContentType)})
	}
	if err := g.table([]string{"MESSAGE", "STATE", "RECEIVED", "ATTEMPTS", "SOURCE", "EVENT", "REPLAY-OF", "CONTENT-TYPE"}, rows); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(stdout, "more: hookq messages %s --after %s\n", pos[0], page.Next)
	}
	return nil
}

func runMessage(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	if _, args, err = subcommand("message", []string{"get"}, args, stderr); err != nil {
		return err
	}
	fs, g := newCLIFlags("message get", "message get QUEUE MESSAGE-ID\n\nShows one message: its meta, delivery history and body.", stdout, stderr)
	pos, err := parseArgs(fs, args, 2, 2)
	if err != nil {
		return err
	}
	c, err := g.api()
	if err != nil {
		return err
	}
	raw, _, err := c.raw(ctx, "GET", "/v1/queues/"+pathEscape(pos[0])+"/messages/"+pathEscape(pos[1]), nil)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(raw)
	}
	m, err := decode[messageJSON](raw)
	if err != nil {
		return err
	}
	kv := []string{"message", m.MessageID, "queue", m.Queue, "state", m.State, "source", ptr(m.Source),
		"received", m.ReceivedAt, "attempts", strconv.FormatUint(uint64(m.Attempts), 10), "event id", ptr(m.EventID),
		"replay of", ptr(m.ReplayOf), "content type", ptr(m.ContentType)}
	if d := m.DeadLetter; d != nil {
		kv = append(kv, "dead letter", fmt.Sprintf("from %s (%s) after %d attempts at %s", d.OriginQueue, d.Reason, d.Attempts, d.DeadAt))
	}
	if err := g.fields(kv...); err != nil {
		return err
	}
	printHeaders(stdout, m.Headers)
	if len(m.Deliveries) > 0 {
		fmt.Fprintln(stdout)
		rows := make([][]string, 0, len(m.Deliveries))
		for _, d := range m.Deliveries {
			rows = append(rows, []string{strconv.FormatUint(uint64(d.Attempt), 10), d.DeliveryID, d.LeasedAt, ptr(d.SettledAt), ptr(d.Outcome), ptr(d.Reason)})
		}
		if err := g.table([]string{"ATTEMPT", "DELIVERY", "LEASED", "SETTLED", "OUTCOME", "REASON"}, rows); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout)
	return printBody(stdout, m.Payload, m.Encoding)
}

// printHeaders writes stored headers, sorted by name.
func printHeaders(w io.Writer, h map[string]string) {
	if len(h) == 0 {
		return
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "headers:")
	for _, k := range names {
		fmt.Fprintf(w, "  %s: %s\n", printable(k), printable(h[k]))
	}
}

// printBody writes a payload: pretty JSON when it is JSON, the text as
// is otherwise, and base64 bodies decoded when they are text.
func printBody(w io.Writer, payload, encoding string) error {
	body := []byte(payload)
	if encoding == "base64" {
		b, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return fmt.Errorf("payload: %w", err)
		}
		_, err = fmt.Fprintf(w, "(binary, %d bytes, base64)\n%s\n", len(b), payload)
		return err
	}
	var buf bytes.Buffer
	if json.Indent(&buf, bytes.TrimSpace(body), "", "  ") == nil {
		body = buf.Bytes()
	}
	_, err := fmt.Fprintf(w, "%s\n", printable(strings.TrimRight(string(body), "\n")))
	return err
}

// printable is s for a terminal: a control character other than newline
// and tab (C0, DEL, C1), which a webhook's sender chose and which could
// drive the terminal (retitle it, write the clipboard, hide text), is
// written as \xNN or \uNNNN instead.
func printable(s string) string { return controlEscaper.Replace(s) }

var controlEscaper = func() *strings.Replacer {
	var pairs []string
	for r := rune(0); r <= 0x9f; r++ {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			continue
		}
		esc := fmt.Sprintf("\\x%02x", r)
		if r >= 0x80 {
			esc = fmt.Sprintf("\\u%04x", r)
		}
		pairs = append(pairs, string(r), esc)
	}
	return strings.NewReplacer(pairs...)
}()

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newCLIFlags("replay", "replay QUEUE (MESSAGE-ID… | [--since T] [--until T])\n\nEnqueues new copies of messages the queue still holds (acked ones within retention too).\nWith neither ids nor times, every message of the queue: that takes --yes.", stdout, stderr)
	since := fs.String("since", "", "RFC 3339 time: messages received at or after it")
	until := fs.String("until", "", "RFC 3339 time: messages received before it")
	yes := fs.Bool("yes", false, "with neither ids nor times: really replay every message of the queue")
	pos, err := parseArgs(fs, args, 1, -1)
	if err != nil {
		return err
	}
	if len(pos) == 1 && *since == "" && *until == "" && !*yes {
		return errReplayAllNeedsYes
	}
	body := map[string]any{}
	if len(pos) > 1 {
		body["messageIds"] = pos[1:]
	}
	if *since != "" {
		body["since"] = *since
	}
	if *until != "" {
		body["until"] = *until
	}
	return countCall(ctx, g, "/v1/queues/"+pathEscape(pos[0])+"/replay", body, "replayed")
}

func runRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newCLIFlags("redrive", "redrive DLQ [MESSAGE-ID…]\n\nMoves dead-lettered messages back to their origin queues (all of them without ids).", stdout, stderr)
	pos, err := parseArgs(fs, args, 1, -1)
	if err != nil {
		return err
	}
	body := map[string]any{}
	if len(pos) > 1 {
		body["messageIds"] = pos[1:]
	}
	return countCall(ctx, g, "/v1/queues/"+pathEscape(pos[0])+"/redrive", body, "redriven")
}

func runPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newCLIFlags("purge", "purge QUEUE --yes\n\nRemoves the queue's ready, delayed and in-flight messages (acked ones stay for retention).", stdout, stderr)
	yes := fs.Bool("yes", false, "really remove them")
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if !*yes {
		return errNeedYes
	}
	return countCall(ctx, g, "/v1/queues/"+pathEscape(pos[0])+"/purge", nil, "purged")
}

// countCall POSTs body to path and prints the count field of the answer.
func countCall(ctx context.Context, g *cliGlobals, path string, body any, field string) error {
	c, err := g.api()
	if err != nil {
		return err
	}
	raw, _, err := c.raw(ctx, "POST", path, body)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(raw)
	}
	v, err := decode[map[string]int64](raw)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(g.out, "%s %d\n", field, v[field])
	return err
}

func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, args, err := subcommand("cluster", []string{"status", "transfer", "remove"}, args, stderr)
	if err != nil {
		return err
	}
	usage := map[string]string{
		"status":   "cluster status\n\nNodes, leader, term, applied index, health and versions, as the leader sees them.",
		"transfer": "cluster transfer [NODE-ID]\n\nHands leadership to NODE-ID, or to any other voter.",
		"remove":   "cluster remove NODE-ID\n\nRemoves a node from the cluster.",
	}[sub]
	fs, g := newCLIFlags("cluster "+sub, usage, stdout, stderr)
	pos, err := parseCLI(fs, args)
	if err != nil {
		return err
	}
	c, err := g.api()
	if err != nil {
		return err
	}
	switch sub {
	case "transfer":
		if err := wantArgs(fs, pos, 0, 1); err != nil {
			return err
		}
		var body any
		if len(pos) == 1 {
			body = map[string]string{"id": pos[0]}
		}
		if _, err := c.call(ctx, "POST", "/v1/cluster/transfer-leadership", body, nil); err != nil {
			return err
		}
		return clusterStatus(ctx, g, c)
	case "remove":
		if err := wantArgs(fs, pos, 1, 1); err != nil {
			return err
		}
		if _, err := c.call(ctx, "DELETE", "/v1/cluster/nodes/"+pathEscape(pos[0]), nil, nil); err != nil {
			return err
		}
		if !g.json {
			fmt.Fprintf(stdout, "node %s removed\n", pos[0])
		}
		return clusterStatus(ctx, g, c)
	}
	if err := wantArgs(fs, pos, 0, 0); err != nil {
		return err
	}
	return clusterStatus(ctx, g, c)
}

func clusterStatus(ctx context.Context, g *cliGlobals, c *cliAPI) error {
	raw, _, err := c.raw(ctx, "GET", "/v1/cluster", nil)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(raw)
	}
	v, err := decode[struct {
		Leader string `json:"leader"`
		Term   uint64 `json:"term"`
		Nodes  []struct {
			ID           string `json:"id"`
			RaftAddr     string `json:"raftAddr"`
			HTTPAddr     string `json:"httpAddr"`
			GRPCAddr     string `json:"grpcAddr"`
			Role         string `json:"role"`
			Suffrage     string `json:"suffrage"`
			Healthy      bool   `json:"healthy"`
			AppliedIndex uint64 `json:"appliedIndex"`
			Version      string `json:"version"`
		} `json:"nodes"`
	}](raw)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "leader: %s  term: %d\n", orDash(v.Leader), v.Term)
	rows := make([][]string, 0, len(v.Nodes))
	for _, n := range v.Nodes {
		health := "unhealthy"
		if n.Healthy {
			health = "healthy"
		}
		id := n.ID
		if n.ID == v.Leader {
			id += "*"
		}
		rows = append(rows, []string{id, n.Role, n.Suffrage, health, strconv.FormatUint(n.AppliedIndex, 10), orDash(n.Version), orDash(n.HTTPAddr), orDash(n.RaftAddr), orDash(n.GRPCAddr)})
	}
	return g.table([]string{"NODE", "ROLE", "SUFFRAGE", "HEALTH", "APPLIED", "VERSION", "HTTP", "RAFT", "GRPC"}, rows)
}
