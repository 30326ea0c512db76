package main

import (
	"bytes"
	"context"
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
