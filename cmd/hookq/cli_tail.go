package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	hqclient "github.com/hookq/hookq/api/client"
)

// tailEnvelope is one message as tail prints it with --json: the
// envelope of the HTTP API (payload, encoding, contentType, meta).
type tailEnvelope struct {
	Payload     string         `json:"payload"`
	Encoding    string         `json:"encoding"`
	ContentType string         `json:"contentType"`
	Meta        map[string]any `json:"meta"`
}

// tailer is one tail run: what to do with each message and how many.
type tailer struct {
	g      *cliGlobals
	api    *cliAPI
	queue  string
	action string // ack, nack or peek
	n      int    // stop after n messages (0: never)
	seen   int
}

func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newCLIFlags("tail", "tail QUEUE [--ack|--nack|--peek] [--n N] [--via sse|grpc]\n\n"+
		"Prints each message of QUEUE as it arrives (meta, then the body; --json: one envelope per line).\n"+
		"--peek (the default) leases nothing: it shows the ready messages as they appear.\n"+
		"--ack and --nack lease each message and settle it so; --nack puts it back after the queue's backoff.\n"+
		"--n leaves no lease behind; an interrupt settles the message printed last (one the server sent at that moment\n"+
		"comes back after its visibility timeout).", stdout, stderr)
	ack := fs.Bool("ack", false, "lease and ack each message (consumes it)")
	nack := fs.Bool("nack", false, "lease and nack each message (redelivered after the queue's backoff)")
	peek := fs.Bool("peek", false, "show ready messages without leasing them (the default)")
	n := fs.Int("n", 0, "stop after N messages (0: until interrupted)")
	via := fs.String("via", "sse", "with --ack or --nack, lease over sse (the HTTP stream) or grpc (api/client)")
	grpcAddr := fs.String("grpc", "", "--via grpc: the node's gRPC host:port (default: looked up in GET /v1/cluster)")
	vis := fs.Duration("visibility", 0, "lease length (default: the queue's)")
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	modes := 0
	for _, b := range []bool{*ack, *nack, *peek} {
		if b {
			modes++
		}
	}
	if modes > 1 {
		return usagef("tail: give one of --ack, --nack, --peek")
	}
	if *n < 0 {
		return usagef("tail: --n must be 0 or more")
	}
	c, err := g.api()
	if err != nil {
		return err
	}
	c.http.Timeout = 0 // a stream stays open
	t := &tailer{g: g, api: c, queue: pos[0], action: "peek", n: *n}
	switch {
	case *ack:
		t.action = "ack"
	case *nack:
		t.action = "nack"
	}
	if t.action == "peek" {
		return t.peek(ctx)
	}
	switch *via {
	case "sse":
		return t.sse(ctx, *vis)
	case "grpc":
		return t.grpc(ctx, *grpcAddr, *vis)
	}
	return usagef("tail: --via %q: want sse or grpc", *via)
}

// done says whether n messages were printed.
func (t *tailer) done() bool { return t.n > 0 && t.seen >= t.n }

// print writes one message: JSON on one line (raw, when the server's own
// envelope is at hand), or meta and pretty body.
func (t *tailer) print(env tailEnvelope, raw []byte) error {
	t.seen++
	if t.g.json {
		if raw == nil {
			var err error
			if raw, err = json.Marshal(env); err != nil {
				return err
			}
		}
		_, err := fmt.Fprintf(t.g.out, "%s\n", raw)
		return err
	}
	m := env.Meta
	str := func(k string) string { s, _ := m[k].(string); return s }
	line := fmt.Sprintf("── %s  queue %s  source %s  attempt %v  received %s", str("messageId"), t.queue, str("source"), m["attempt"], str("receivedAt"))
	if id := str("eventId"); id != "" {
		line += "  event " + id
	}
	if id := str("replayOf"); id != "" {
		line += "  replay of " + id
	}
	fmt.Fprintf(t.g.out, "%s\n", cell(fmt.Sprintf("%s  %s (%s)", line, env.ContentType, t.action)))
	switch h := m["headers"].(type) {
	case map[string]string:
		printHeaders(t.g.out, h)
	case map[string]any:
		hs := make(map[string]string, len(h))
		for k, v := range h {
			hs[k], _ = v.(string)
		}
		printHeaders(t.g.out, hs)
	}
	return printBody(t.g.out, env.Payload, env.Encoding)
}

// peek polls the ready messages and prints each new one once, oldest
// first (ids sort in ingest order, so "new" is an id above the last
// printed).
func (t *tailer) peek(ctx context.Context) error {
	last := ""
	for !t.done() {
		ids, err := t.readyAfter(ctx, last)
		if err != nil {
			return err
		}
		for i := len(ids) - 1; i >= 0 && !t.done(); i-- {
			var rec messageJSON
			_, err := t.api.call(ctx, "GET", "/v1/queues/"+pathEscape(t.queue)+"/messages/"+pathEscape(ids[i]), nil, &rec)
			var ae *apiError
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
				continue // consumed meanwhile
			}
			if err != nil {
				return err
			}
			last = ids[i]
			if err := t.print(envelopeOfRecord(rec), nil); err != nil {
				return err
			}
		}
		if t.done() {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	return nil
}

// peekPages bounds the listing pages one peek poll reads.
const peekPages = 10

// readyAfter is the ids of q's ready messages above last, newest first,
// at most peekPages pages of them.
func (t *tailer) readyAfter(ctx context.Context, last string) ([]string, error) {
	var ids []string
	after := ""
	for range peekPages {
		q := url.Values{"state": {"ready"}, "limit": {"100"}}
		if after != "" {
			q.Set("after", after)
		}
		var page struct {
			Messages []struct {
				MessageID string `json:"messageId"`
			} `json:"messages"`
			Next string `json:"next"`
		}
		if _, err := t.api.call(ctx, "GET", "/v1/queues/"+pathEscape(t.queue)+"/messages?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		for _, m := range page.Messages {
			if m.MessageID <= last {
				return ids, nil
			}
			ids = append(ids, m.MessageID)
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	return ids, nil
}

func envelopeOfRecord(r messageJSON) tailEnvelope {
	meta := map[string]any{"messageId": r.MessageID, "queue": r.Queue, "state": r.State, "attempts": r.Attempts,
		"attempt": r.Attempts, "receivedAt": r.ReceivedAt, "headers": r.Headers}
	for k, v := range map[string]*string{"source": r.Source, "eventId": r.EventID, "replayOf": r.ReplayOf} {
		if v != nil {
			meta[k] = *v
		}
	}
	ct := "application/octet-stream"
	if r.ContentType != nil {
		ct = *r.ContentType
	}
	return tailEnvelope{Payload: r.Payload, Encoding: r.Encoding, ContentType: ct, Meta: meta}
}

// sse leases over GET /v1/queues/{q}/stream, one message in flight, and
// settles each over REST.
func (t *tailer) sse(ctx context.Context, vis time.Duration) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{"maxInFlight": {"1"}}
	if vis > 0 {
		q.Set("visibility", vis.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.api.base+"/v1/queues/"+pathEscape(t.queue)+"/stream?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if t.api.token != "" {
		req.Header.Set("Authorization", "Bearer "+t.api.token)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := t.api.http.Do(req) // #nosec G704 -- the user's --url; streaming from it is the command's job
	if err != nil {
		return fmt.Errorf("stream %s: %w", t.queue, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return errorOf(resp.StatusCode, raw)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	event, data := "", ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		case line == "":
			if err := t.sseEvent(parent, resp.Body, event, data); err != nil {
				return err
			}
			if t.done() {
				return nil
			}
			event, data = "", ""
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("stream %s: %w", t.queue, err)
	}
	return fmt.Errorf("stream %s: the server closed it", t.queue)
}

// sseEvent handles one event of stream. A message it prints is settled
// even when ctx ends meanwhile (an interrupt settles what was shown); the
// last message of --n is settled after stream is closed, so the credit
// that frees brings no lease that nobody would read.
func (t *tailer) sseEvent(ctx context.Context, stream io.Closer, event, data string) error {
	switch event {
	case "message":
		var env tailEnvelope
		if err := json.Unmarshal([]byte(data), &env); err != nil {
			return fmt.Errorf("stream %s: bad message event: %w", t.queue, err)
		}
		if err := t.print(env, []byte(data)); err != nil {
			return err
		}
		if t.done() {
			_ = stream.Close()
		}
		settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		id, _ := env.Meta["deliveryId"].(string)
		_, err := t.api.call(settle, "POST", "/v1/queues/"+pathEscape(t.queue)+"/deliveries/"+pathEscape(id)+"/"+t.action, nil, nil)
		return err
	case "error":
		return fmt.Errorf("stream %s: %w", t.queue, errorOf(http.StatusServiceUnavailable, []byte(data)))
	}
	return nil // keep-alive
}

// grpc leases one message at a time through api/client over gRPC.
func (t *tailer) grpc(ctx context.Context, addr string, vis time.Duration) error {
	if addr == "" {
		var err error
		if addr, err = t.grpcAddr(ctx); err != nil {
			return err
		}
	}
	c, err := hqclient.New(hqclient.Options{GRPCTargets: []string{addr}, Token: t.g.token, CAFile: t.g.ca, Transport: hqclient.TransportGRPC})
	if err != nil {
		return err
	}
	defer c.Close()
	for !t.done() {
		ds, err := c.Lease(ctx, t.queue, hqclient.LeaseOptions{Max: 1, Wait: 20 * time.Second, Visibility: vis})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return clientError(err)
		}
		for _, d := range ds {
			if err := t.print(envelopeOfDelivery(d), nil); err != nil {
				return err
			}
			// An interrupt after the print still settles the message.
			settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if t.action == "ack" {
				err = c.Ack(settle, t.queue, d.Meta.DeliveryID)
			} else {
				err = c.Nack(settle, t.queue, d.Meta.DeliveryID, hqclient.NackOptions{})
			}
			cancel()
			if err != nil {
				return clientError(err)
			}
		}
	}
	return nil
}

// clientError words an api/client error like the HTTP API's.
func clientError(err error) error {
	var ce *hqclient.Error
	if errors.As(err, &ce) {
		return &apiError{Status: ce.HTTPStatus, Code: ce.Code, Message: ce.Message}
	}
	return err
}

// grpcAddr is the gRPC address of the node --url names, as GET
// /v1/cluster records it, or else the leader's.
func (t *tailer) grpcAddr(ctx context.Context) (string, error) {
	var v struct {
		Leader string `json:"leader"`
		Nodes  []struct {
			ID       string `json:"id"`
			HTTPAddr string `json:"httpAddr"`
			GRPCAddr string `json:"grpcAddr"`
		} `json:"nodes"`
	}
	if _, err := t.api.call(ctx, "GET", "/v1/cluster", nil, &v); err != nil {
		return "", fmt.Errorf("finding the gRPC address (or give --grpc): %w", err)
	}
	host := ""
	if u, err := url.Parse(t.api.base); err == nil {
		host = u.Host
	}
	leader := ""
	for _, n := range v.Nodes {
		if n.GRPCAddr != "" && sameHostPort(n.HTTPAddr, host) {
			return grpcTarget(host, n.GRPCAddr)
		}
		if n.ID == v.Leader {
			leader = n.GRPCAddr
		}
	}
	if leader == "" {
		return "", errors.New("no gRPC address in GET /v1/cluster: give --grpc host:port")
	}
	return grpcTarget(host, leader)
}

// grpcTarget is the address to dial for a gRPC address a node reported,
// seen through --url's host: a wildcard listen address (0.0.0.0, ::, none)
// takes --url's host name; a loopback one is only dialed when --url is on
// loopback too, else it would reach a process of this machine instead.
func grpcTarget(urlHost, reported string) (string, error) {
	h, port, err := net.SplitHostPort(reported)
	if err != nil {
		return "", fmt.Errorf("gRPC address %q in GET /v1/cluster: %w; give --grpc host:port", reported, err)
	}
	uh := urlHost
	if hh, _, err := net.SplitHostPort(urlHost); err == nil {
		uh = hh
	}
	uh = strings.Trim(uh, "[]")
	if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
		return net.JoinHostPort(uh, port), nil
	}
	if isLoopback(h) && !isLoopback(uh) {
		return "", fmt.Errorf("the node's gRPC address %s is on its loopback, out of reach from %s: give --grpc host:port", reported, uh)
	}
	return reported, nil
}

func sameHostPort(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb {
		return false
	}
	return ha == hb || (isLoopback(ha) && isLoopback(hb))
}

func isLoopback(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

func envelopeOfDelivery(d hqclient.Delivery) tailEnvelope {
	m := d.Meta
	meta := map[string]any{"messageId": m.MessageID, "deliveryId": m.DeliveryID, "queue": m.Queue, "source": m.Source,
		"attempt": m.Attempt, "receivedAt": m.ReceivedAt.UTC().Format(time.RFC3339Nano), "headers": m.Headers}
	if !m.LeaseExpiresAt.IsZero() {
		meta["leaseExpiresAt"] = m.LeaseExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	if m.EventID != "" {
		meta["eventId"] = m.EventID
	}
	if m.ReplayOf != "" {
		meta["replayOf"] = m.ReplayOf
	}
	if dl := m.DeadLetter; dl != nil {
		meta["deadLetter"] = map[string]any{"originQueue": dl.OriginQueue, "reason": dl.Reason, "attempts": dl.Attempts, "deadAt": dl.DeadAt.UTC().Format(time.RFC3339Nano)}
	}
	env := tailEnvelope{Payload: string(d.Payload), Encoding: "utf8", ContentType: d.ContentType, Meta: meta}
	if !utf8.Valid(d.Payload) {
		env.Payload, env.Encoding = base64.StdEncoding.EncodeToString(d.Payload), "base64"
	}
	return env
}
