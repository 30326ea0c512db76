package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runBinary runs the built hookq with args and returns its stdout,
// stderr and exit code (killed after 2 minutes).
func runBinary(t testing.TB, env []string, args ...string) (string, string, int) {
	t.Helper()
	// Bounded: a command that hangs fails its test instead of the run.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...) // #nosec G204 -- the binary this test built
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	t.Fatalf("hookq %v: %v", args, err)
	return "", "", -1
}

func TestHelpExitsZeroAndABadFlagIsReportedOnce(t *testing.T) {
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "-h"}, {"backup", "-h"}, {"--help"}} {
		_, stderr, code := runBinary(t, nil, args...)
		if code != 0 {
			t.Errorf("hookq %v: exit %d, want 0; stderr %s", args, code, stderr)
		}
	}
	_, stderr, code := runBinary(t, nil, "serve", "--no-such-flag")
	if code != 2 {
		t.Fatalf("bad flag: exit %d, want 2", code)
	}
	if n := strings.Count(stderr, "no-such-flag"); n != 1 {
		t.Fatalf("bad flag reported %d times, want once:\n%s", n, stderr)
	}
	if _, _, code := runBinary(t, nil); code != 2 {
		t.Fatalf("no command: exit %d, want 2", code)
	}
	stdout, _, code := runBinary(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(stdout, "hookq ") {
		t.Fatalf("--version: exit %d, stdout %q", code, stdout)
	}
}
