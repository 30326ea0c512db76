package backupfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, payload string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{DataFormat: 1, Release: "v1", Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, payload)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(t *testing.T, b []byte) (Header, []byte, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "b")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, r, err := Open(f)
	if err != nil {
		return h, nil, err
	}
	got, err := io.ReadAll(r)
	return h, got, err
}

func TestRoundTrip(t *testing.T) {
	h, got, err := open(t, write(t, "snapshot\x00bytes\n"))
	if err != nil || string(got) != "snapshot\x00bytes\n" || h.Node != "n1" || h.Format != Format || h.Release != "v1" {
		t.Fatalf("%+v %q %v", h, got, err)
	}
}

func TestDamageIsDetected(t *testing.T) {
	good := write(t, "some snapshot stream")
	flip := bytes.Clone(good)
	flip[len(magic)+40] ^= 1
	for name, b := range map[string][]byte{
		"truncated":   good[:len(good)-10],
		"cut in half": good[:len(good)/2],
		"bit flip":    flip,
		"empty":       nil,
		"other magic": append([]byte("hookq-backuq\n"), good[len(magic):]...),
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := open(t, b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open = %v, want ErrCorrupt", err)
			}
		})
	}
}
