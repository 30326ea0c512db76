package broker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataFormatRecordedInFreshDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := checkDataFormat(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, FormatFile))
	if err != nil || strings.TrimSpace(string(b)) != "hookq-data-format 1" {
		t.Fatalf("FORMAT = %q, %v", b, err)
	}
	if err := checkDataFormat(dir); err != nil {
		t.Fatalf("second start: %v", err)
	}
}

func TestUnknownDataFormatIsRefused(t *testing.T) {
	for name, content := range map[string]string{
		"newer":   "hookq-data-format 2\n",
		"garbage": "{not a format}",
		"zero":    "hookq-data-format 0\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FormatFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(Config{NodeID: "n1", DataDir: dir, RaftAddr: "127.0.0.1:1"})
			if !errors.Is(err, ErrDataFormat) {
				t.Fatalf("Open = %v, want ErrDataFormat", err)
			}
			// Nothing was created next to the unknown data.
			for _, sub := range []string{"raft", "fsm"} {
				if _, err := os.Stat(filepath.Join(dir, sub)); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s created in a refused data dir (%v)", sub, err)
				}
			}
		})
	}
}
