//go:build unix

package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 9 review, item 6: a data dir, or anything under it, owned by
// another user is refused at start, root included (the owner could open
// it again at any time); one owned by the process's user is accepted.
func TestDataDirOwnedByAnotherUserIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	const nobody = 65534
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, sub := range []string{".", "raft", "fsm"} {
		dir := filepath.Join(t.TempDir(), "data")
		for _, d := range []string{"raft", "fsm"} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := privateDataDir(dir, log); err != nil {
			t.Fatalf("own data dir refused: %v", err)
		}
		if err := os.Chown(filepath.Join(dir, sub), nobody, nobody); err != nil {
			t.Fatal(err)
		}
		err := privateDataDir(dir, log)
		if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("%s owned by uid %d: %v; want a refusal naming the owner", sub, nobody, err)
		} else {
			t.Logf("%s: %v", sub, err)
		}
	}
}
