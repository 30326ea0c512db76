package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hookq/hookq/api/apitest"
)

// A name of "." or ".." is a path segment the server's router cleans away
// and redirects (GET /v1/queues/. → /v1/queues): the CLI must not follow
// that to another endpoint and print its answer as the named resource.
// Each command fails (exit 1) and changes nothing.
func TestCLIDotNamesDoNotReachAnotherEndpoint(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "keep", nil)
	ctx := context.Background()
	for _, args := range [][]string{
		{"queue", "get", "."},
		{"queue", "get", ".."},
		{"queue", "delete", "."},
		{"source", "get", "."},
		{"token", "delete", ".."},
		{"messages", "."},
	} {
		var stdout, stderr bytes.Buffer
		err := Run(ctx, append(args, "--url", n.HTTPURL, "--token", n.AdminToken), &stdout, &stderr)
		if exitCode(err) != 1 {
			t.Errorf("%q: err %v (exit %d), want exit 1; stdout: %s", args, err, exitCode(err), stdout.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%q printed an answer of another endpoint: %s", args, stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if err := Run(ctx, []string{"queue", "get", "keep", "--url", n.HTTPURL, "--token", n.AdminToken}, &stdout, &stderr); err != nil {
		t.Fatalf("queue keep is gone: %v", err)
	}
}

// An error of a request never printed the user:password of --url.
func TestCLIErrorsRedactURLCredentials(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), []string{"queue", "list", "--url", "http://alice:s3cretpw@127.0.0.1:1"}, &stdout, &stderr)
	if err == nil {
		t.Fatal("queue list against a closed port succeeded")
	}
	if all := err.Error() + stdout.String() + stderr.String(); strings.Contains(all, "s3cretpw") {
		t.Fatalf("the password of --url is in the output: %s", all)
	}
}

// A command line refused after its flags parsed (a missing or
// conflicting flag, an unknown subcommand, purge without --yes) is bad
// usage: exit 2, not the exit 1 of a failed API call; -h exits 0 on
// every command, completion included.
func TestCLIBadUsageExits2(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "q", nil)
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"queue", "frob"}, 2},
		{[]string{"send", "demo"}, 2},
		{[]string{"send", "demo", "--data", "{}", "--file", "x"}, 2},
		{[]string{"send", "demo", "--data", "{}", "--header", "nokv"}, 2},
		{[]string{"tail", "q", "--ack", "--nack"}, 2},
		{[]string{"tail", "q", "--n", "-1"}, 2},
		{[]string{"tail", "q", "--ack", "--via", "carrier-pigeon"}, 2},
		{[]string{"source", "put", "s", "--queue", "q"}, 2},
		{[]string{"purge", "q"}, 2},
		{[]string{"replay", "q"}, 2},
		{[]string{"replay", "q", "--yes"}, 0},
		{[]string{"replay", "q", "--since", "2020-01-01T00:00:00Z"}, 0},
		{[]string{"queue", "list", "--url", "ftp://x"}, 2},
		{[]string{"completion", "-h"}, 0},
		{[]string{"completion", "fish"}, 2},
	} {
		var stdout, stderr bytes.Buffer
		err := Run(ctx, append(tc.args, "--url", n.HTTPURL, "--token", n.AdminToken), &stdout, &stderr)
		if tc.args[len(tc.args)-1] == "ftp://x" {
			err = Run(ctx, tc.args, &stdout, &stderr)
		}
		if got := exitCode(err); got != tc.want {
			t.Errorf("%q: err %v, exit %d, want %d", tc.args, err, got, tc.want)
		}
	}
}

// Whoever can post to a source writes the body and headers that tail and
// message get print for a person: control characters (an escape sequence
// that retitles the terminal, writes the clipboard or hides text) are
// shown escaped, not sent to the terminal. --json keeps the bytes (JSON
// escapes them).
func TestCLIPrintsNoTerminalControlsFromAWebhook(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "inbox", nil)
	ctx := context.Background()
	run := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := Run(ctx, append(args, "--url", n.HTTPURL, "--token", n.AdminToken), &stdout, &stderr); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}
	run("source", "put", "open", "--queue", "inbox", "--verify", "none")
	hostile := "hello \x1b]52;c;ZXZpbA==\x07\x1b[8mhidden\x1b[0m \u009b31m done"
	run("send", "open", "--data", hostile, "--content-type", "text/plain")
	var list struct {
		Messages []struct {
			MessageID string `json:"messageId"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(run("messages", "inbox", "--json")), &list); err != nil || len(list.Messages) != 1 {
		t.Fatalf("messages --json: %v %+v", err, list)
	}
	for _, out := range []string{
		run("message", "get", "inbox", list.Messages[0].MessageID),
		run("tail", "inbox", "--peek", "--n", "1"),
	} {
		if strings.ContainsAny(out, "\x1b\x07\u009b") {
			t.Errorf("a control character reached the terminal: %q", out)
		}
		if !strings.Contains(out, `hello \x1b]52;c;ZXZpbA==\x07\x1b[8mhidden`) {
			t.Errorf("the body is not shown escaped: %q", out)
		}
	}
	if out := run("message", "get", "inbox", list.Messages[0].MessageID, "--json"); !strings.Contains(out, `\u001b]52`) {
		t.Errorf("--json lost the body's bytes: %s", out)
	}
}

// tail --ack --n N over the SSE stream leases no message past the N-th:
// it closes the stream before it settles the last one, so no credit comes
// free for the server to fill with a lease that would sit out its
// visibility timeout unseen.
func TestTailAckNLeavesNoExtraLease(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "inbox", nil)
	ctx := context.Background()
	run := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := Run(ctx, append(args, "--url", n.HTTPURL, "--token", n.AdminToken), &stdout, &stderr); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, stderr.String())
		}
		return stdout.String()
	}
	run("source", "put", "open", "--queue", "inbox", "--verify", "none")
	for i := range 4 {
		run("send", "open", "--data", fmt.Sprintf(`{"n":%d}`, i))
	}
	for round := range 2 {
		run("tail", "inbox", "--ack", "--n", "1")
		var q queueJSON
		if err := json.Unmarshal([]byte(run("queue", "get", "inbox", "--json")), &q); err != nil {
			t.Fatal(err)
		}
		if q.Stats.Inflight != 0 || q.Stats.Acked != int64(round+1) || q.Stats.Ready != int64(3-round) {
			t.Fatalf("after tail --ack --n 1 (round %d): %+v, want 0 in flight, %d acked, %d ready", round, q.Stats, round+1, 3-round)
		}
	}
}

// tail --via grpc dials the gRPC address GET /v1/cluster records only when
// the --url's host can reach it: a wildcard listen address takes the
// --url's host; a loopback one seen through a remote --url is refused
// (dialing it would send the token to a process on this machine, maybe
// another hookq node, and tail the wrong queue).
func TestGRPCTargetIsReachableFromTheURLHost(t *testing.T) {
	for _, tc := range []struct {
		urlHost, reported, want string
		wantErr                 bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:9090", "127.0.0.1:9090", false},
		{"localhost:8080", "127.0.0.1:9090", "127.0.0.1:9090", false},
		{"10.0.0.5:8080", "10.0.0.5:9090", "10.0.0.5:9090", false},
		{"hookq.example.com", "0.0.0.0:9090", "hookq.example.com:9090", false},
		{"[2001:db8::1]:8080", "[::]:9090", "[2001:db8::1]:9090", false},
		{"hookq.example.com:443", ":9090", "hookq.example.com:9090", false},
		{"hookq.example.com:443", "127.0.0.1:9090", "", true},
		{"10.0.0.5:8080", "[::1]:9090", "", true},
	} {
		got, err := grpcTarget(tc.urlHost, tc.reported)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("grpcTarget(%q, %q) = %q, %v; want %q (error %v)", tc.urlHost, tc.reported, got, err, tc.want, tc.wantErr)
		}
	}
}
