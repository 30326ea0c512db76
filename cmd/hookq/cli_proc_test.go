package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// cliRun runs the built hookq against node p with the admin token in the
// environment (HOOKQ_URL, HOOKQ_TOKEN), like a user of the CLI.
type cliRun struct {
	t   *testing.T
	env []string
}

func newCLIRun(t *testing.T, p *proc) *cliRun {
	env := append(os.Environ(), "HOOKQ_URL=http://"+p.http, "HOOKQ_TOKEN="+testAdmin)
	return &cliRun{t: t, env: env}
}

// ok runs hookq args, failing the test unless it exits 0; it returns stdout.
func (c *cliRun) ok(args ...string) string {
	c.t.Helper()
	stdout, stderr, code := runBinary(c.t, c.env, args...)
	if code != 0 {
		c.t.Fatalf("hookq %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout
}

// json runs hookq args --json and decodes stdout into v.
func (c *cliRun) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("hookq %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs hookq args, failing the test unless it exits 1 with want on
// stderr, exactly once.
func (c *cliRun) fails(want string, args ...string) string {
	c.t.Helper()
	return c.exits(1, want, args...)
}

// exits runs hookq with args and wants exit code, with want once on
// stderr (2: a command line refused).
func (c *cliRun) exits(code int, want string, args ...string) string {
	c.t.Helper()
	stdout, stderr, got := runBinary(c.t, c.env, args...)
	if got != code || strings.Count(stderr, want) != 1 {
		c.t.Fatalf("hookq %s: exit %d, want %d with %q once on stderr\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, want, stdout, stderr)
	}
	return stderr
}

// The session of the CLI's README section, against a real dev node, with
// the built binary.
func TestCLISessionAgainstADevNode(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	p := newProc(t, "dev1", "--dev")
	p.start()
	p.waitReady(30 * time.Second)
	c := newCLIRun(t, p)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	if out := c.ok("queue", "put", "orders", "--visibility", "1m30s", "--backoff", "1s,10s"); !strings.Contains(out, "queue orders created") || !strings.Contains(out, "1m30s") {
		t.Fatalf("queue put:\n%s", out)
	}
	if out := c.ok("source", "put", "shop", "--queue", "orders", "--verify", "standard", "--secret", secret); !strings.Contains(out, "source shop created") {
		t.Fatalf("source put:\n%s", out)
	}

	// send signs like a Standard Webhooks sender: the right secret is
	// accepted, a wrong one is refused with the API's 401.
	out := c.ok("send", "shop", "--provider", "standard", "--secret", secret, "--data", `{"order":42}`)
	var sent struct {
		MessageID string `json:"messageId"`
		Duplicate bool   `json:"duplicate"`
	}
	status, body, _ := strings.Cut(strings.TrimSpace(out), " ")
	if status != "202" || json.Unmarshal([]byte(body), &sent) != nil || sent.MessageID == "" || sent.Duplicate {
		t.Fatalf("send with the right secret: %q", out)
	}
	c.fails("401 signature_invalid", "send", "shop", "--provider", "standard", "--secret", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--data", `{"order":43}`)

	// tail --ack --n 1 --json prints the message as one JSON envelope.
	out = c.ok("tail", "orders", "--ack", "--n", "1", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var env struct {
		Payload  string `json:"payload"`
		Encoding string `json:"encoding"`
		Meta     struct {
			MessageID string `json:"messageId"`
			Source    string `json:"source"`
			Attempt   int    `json:"attempt"`
		} `json:"meta"`
	}
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &env) != nil || env.Payload != `{"order":42}` || env.Encoding != "utf8" ||
		env.Meta.MessageID != sent.MessageID || env.Meta.Source != "shop" || env.Meta.Attempt != 1 {
		t.Fatalf("tail --ack --n 1 --json printed:\n%s", out)
	}

	// queue get shows it acked (table and JSON).
	var q struct {
		Settings struct {
			VisibilityTimeout string `json:"visibilityTimeout"`
		} `json:"settings"`
		Stats struct {
			Ready, Inflight, Acked, Enqueued int64
		} `json:"stats"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.json(&q, "queue", "get", "orders")
		if q.Stats.Acked == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if q.Stats.Acked != 1 || q.Stats.Ready != 0 || q.Stats.Inflight != 0 || q.Stats.Enqueued != 1 || q.Settings.VisibilityTimeout != "1m30s" {
		t.Fatalf("queue get after tail --ack: %+v", q)
	}
	if out := c.ok("queue", "get", "orders"); !strings.Contains(out, "acked:") || !strings.Contains(strings.Join(strings.Fields(out), " "), "acked: 1") {
		t.Fatalf("queue get table:\n%s", out)
	}

	// messages lists it; replay makes a new copy that points back at it.
	if out := c.ok("messages", "orders"); !strings.Contains(out, sent.MessageID) || !strings.Contains(out, "acked") {
		t.Fatalf("messages:\n%s", out)
	}
	if out := c.ok("replay", "orders", sent.MessageID); strings.TrimSpace(out) != "replayed 1" {
		t.Fatalf("replay: %q", out)
	}
	var list struct {
		Messages []struct {
			MessageID string  `json:"messageId"`
			State     string  `json:"state"`
			ReplayOf  *string `json:"replayOf"`
			Encoding  string  `json:"encoding"`
		} `json:"messages"`
	}
	c.json(&list, "messages", "orders")
	if len(list.Messages) != 2 || list.Messages[0].ReplayOf == nil || *list.Messages[0].ReplayOf != sent.MessageID ||
		list.Messages[0].State != "ready" || list.Messages[1].State != "acked" || list.Messages[0].Encoding != "utf8" {
		t.Fatalf("messages after replay: %+v", list)
	}
	if out := c.ok("message", "get", "orders", sent.MessageID); !strings.Contains(out, `"order": 42`) || !strings.Contains(out, "ack") {
		t.Fatalf("message get:\n%s", out)
	}

	// token create prints the token once; it works until deleted.
	tok := strings.TrimSpace(c.ok("token", "create", "ci", "--scope", "read:orders"))
	if !strings.HasPrefix(tok, "hq_") || strings.Contains(tok, "\n") {
		t.Fatalf("token create printed %q", tok)
	}
	var tokens struct {
		Tokens []struct {
			Name   string   `json:"name"`
			Scopes []string `json:"scopes"`
		} `json:"tokens"`
	}
	c.json(&tokens, "token", "list")
	if len(tokens.Tokens) != 1 || tokens.Tokens[0].Name != "ci" || len(tokens.Tokens[0].Scopes) != 1 || tokens.Tokens[0].Scopes[0] != "read:orders" {
		t.Fatalf("token list: %+v", tokens)
	}
	if out := c.ok("--token", tok, "queue", "get", "orders"); !strings.Contains(out, "orders") {
		t.Fatalf("queue get with the new token:\n%s", out)
	}
	c.fails("403 forbidden", "queue", "put", "orders", "--token", tok)
	if out := c.ok("token", "delete", "ci"); !strings.Contains(out, "token ci deleted") {
		t.Fatalf("token delete: %q", out)
	}
	c.json(&tokens, "token", "list")
	if len(tokens.Tokens) != 0 {
		t.Fatalf("token list after delete: %+v", tokens)
	}
	c.fails("401 unauthenticated", "queue", "get", "orders", "--token", tok)

	// cluster status: one healthy voter that leads.
	var cl struct {
		Leader string `json:"leader"`
		Nodes  []struct {
			ID       string `json:"id"`
			Role     string `json:"role"`
			Healthy  bool   `json:"healthy"`
			HTTPAddr string `json:"httpAddr"`
		} `json:"nodes"`
	}
	c.json(&cl, "cluster", "status")
	if cl.Leader != "dev1" || len(cl.Nodes) != 1 || cl.Nodes[0].Role != "voter" || !cl.Nodes[0].Healthy || cl.Nodes[0].HTTPAddr != p.http {
		t.Fatalf("cluster status: %+v", cl)
	}
	if out := c.ok("cluster", "status"); !strings.Contains(out, "leader: dev1") || !strings.Contains(out, "dev1*") {
		t.Fatalf("cluster status table:\n%s", out)
	}

	// Errors print the API's code and message; unknown names are 404.
	// Destructive commands ask for --yes: a missing or required flag is a
	// command line refused, exit 2.
	c.fails("404 not_found", "queue", "get", "nope")
	c.exits(2, "--yes", "purge", "orders")
	c.exits(2, "--verify is required", "source", "put", "open", "--queue", "orders")
	if out := c.ok("purge", "orders", "--yes"); strings.TrimSpace(out) != "purged 1" {
		t.Fatalf("purge: %q", out)
	}
}

// tail over gRPC (api/client) and --peek, send as GitHub and Stripe
// would, global flags before the command, and completion.
func TestCLITailViaGRPCPeekAndProviders(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	p := newProc(t, "dev1", "--dev")
	p.start()
	p.waitReady(30 * time.Second)
	c := newCLIRun(t, p)
	c.ok("--url", "http://"+p.http, "--token", testAdmin, "queue", "put", "gh")
	c.ok("source", "put", "github", "--queue", "gh", "--verify", "github", "--secret", "gh-secret")
	c.ok("source", "put", "stripe", "--queue", "gh", "--verify", "stripe", "--secret", "whsec_stripe")
	c.ok("send", "github", "--provider", "github", "--secret", "gh-secret", "--data", `{"action":"opened"}`, "--event-id", "delivery-1")
	if out := c.ok("send", "github", "--provider", "github", "--secret", "gh-secret", "--data", `{"action":"opened"}`, "--event-id", "delivery-1", "--json"); !strings.Contains(out, `"duplicate": true`) {
		t.Fatalf("a repeated GitHub delivery is not a duplicate:\n%s", out)
	}
	c.ok("send", "stripe", "--provider", "stripe", "--secret", "whsec_stripe", "--data", `{"id":"evt_1","type":"charge.succeeded"}`)
	c.fails("401 signature_invalid", "send", "stripe", "--provider", "stripe", "--secret", "whsec_other", "--data", `{"id":"evt_2"}`)

	// --peek leases nothing.
	out := c.ok("tail", "gh", "--peek", "--n", "2")
	if !strings.Contains(out, `"action": "opened"`) || !strings.Contains(out, `"id": "evt_1"`) || !strings.Contains(out, "(peek)") {
		t.Fatalf("tail --peek:\n%s", out)
	}
	var q struct {
		Stats struct{ Ready, Inflight, Delivered int64 } `json:"stats"`
	}
	c.json(&q, "queue", "get", "gh")
	if q.Stats.Ready != 2 || q.Stats.Delivered != 0 {
		t.Fatalf("after --peek: %+v", q.Stats)
	}

	// --via grpc finds the node's gRPC address itself; --nack puts the
	// message back, --ack takes both.
	out = c.ok("tail", "gh", "--nack", "--n", "1", "--via", "grpc", "--json")
	var env struct {
		Meta struct {
			EventID string `json:"eventId"`
			Attempt int    `json:"attempt"`
		} `json:"meta"`
	}
	if err := json.Unmarshal([]byte(out), &env); err != nil || env.Meta.EventID != "delivery-1" || env.Meta.Attempt != 1 {
		t.Fatalf("tail --nack via grpc: %v\n%s", err, out)
	}
	c.json(&q, "queue", "get", "gh")
	if q.Stats.Inflight != 0 || q.Stats.Delivered != 1 {
		t.Fatalf("after --nack: %+v", q.Stats)
	}
	out = c.ok("tail", "gh", "--ack", "--n", "2", "--via", "grpc", "--grpc", p.grpc)
	if strings.Count(out, "(ack)") != 2 {
		t.Fatalf("tail --ack --n 2 via grpc:\n%s", out)
	}

	for _, shell := range []string{"bash", "zsh"} {
		if out := c.ok("completion", shell); !strings.Contains(out, "complete -F _hookq hookq") || !strings.Contains(out, "transfer") {
			t.Fatalf("completion %s:\n%s", shell, out)
		}
	}
}

// tail --peek pages through the listing: with more ready messages than
// one page holds, it prints each once, oldest first, and leases none.
func TestCLITailPeekPagesOldestFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	p := newProc(t, "dev1", "--dev")
	p.start()
	p.waitReady(30 * time.Second)
	c := newCLIRun(t, p)
	c.ok("queue", "put", "many")
	const n = 230
	msgs := make([]map[string]any, n)
	for i := range msgs {
		msgs[i] = map[string]any{"payload": fmt.Sprintf(`{"i":%d}`, i), "contentType": "application/json"}
	}
	mustCall(t, 200, "POST", p.url("/v1/queues/many/publish"), map[string]any{"messages": msgs})
	out := c.ok("tail", "many", "--n", fmt.Sprint(n), "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n {
		t.Fatalf("tail --peek printed %d messages, want %d", len(lines), n)
	}
	prev := ""
	for i, l := range lines {
		var env struct {
			Payload string `json:"payload"`
			Meta    struct {
				MessageID string `json:"messageId"`
			} `json:"meta"`
		}
		if err := json.Unmarshal([]byte(l), &env); err != nil || env.Payload != fmt.Sprintf(`{"i":%d}`, i) || env.Meta.MessageID <= prev {
			t.Fatalf("line %d: %v %s (previous id %s)", i, err, l, prev)
		}
		prev = env.Meta.MessageID
	}
	var q struct {
		Stats struct{ Ready, Delivered int64 } `json:"stats"`
	}
	c.json(&q, "queue", "get", "many")
	if q.Stats.Ready != n || q.Stats.Delivered != 0 {
		t.Fatalf("after tail --peek: %+v", q.Stats)
	}
}
