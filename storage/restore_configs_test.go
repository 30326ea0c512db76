package storage

import (
	"bytes"
	"testing"

	pb "github.com/hookq/hookq/proto/raftcmd"
)

// A snapshot stream that reads cleanly but holds a config value that does
// not decode is refused, and the store keeps serving what it held before:
// its database, its applied index and its in-memory configs (which must
// still equal that database), and it goes on applying.
func TestRestoreWithUndecodableConfigKeepsState(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	applyEntry(t, s, 1, func(x *Txn) {
		if r := x.PutQueue(&pb.PutQueue{Name: "a", Config: DefaultQueueConfig("a")}); r.Err != nil {
			t.Fatal(r.Err)
		}
	})
	bad := encodeSnapshot([][2][]byte{
		{cfgKey(pQueueCfg, "b"), {0xff}}, // a truncated varint: not a QueueConfig
		{keyApplied, be64(nil, 9)},
	})
	if err := s.Restore(bytes.NewReader(bad)); err == nil {
		t.Fatal("restore of an undecodable queue config succeeded")
	}
	if got := s.AppliedIndex(); got != 1 {
		t.Fatalf("applied index %d after the failed restore, want 1 (the old database)", got)
	}
	if !s.HasQueue("a") || s.HasQueue("b") {
		t.Fatalf("after the failed restore: has a %v, has b %v; want the old configs", s.HasQueue("a"), s.HasQueue("b"))
	}
	wantConfigsMatchDB(t, s, "after the failed restore")
	applyEntry(t, s, 2, func(x *Txn) {
		if r := x.PutQueue(&pb.PutQueue{Name: "c", Config: DefaultQueueConfig("c")}); r.Err != nil {
			t.Fatal(r.Err)
		}
	})
	wantConfigsMatchDB(t, s, "after applying past the failed restore")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	if got := s.AppliedIndex(); got != 2 || !s.HasQueue("a") || !s.HasQueue("c") {
		t.Fatalf("reopened at index %d, has a %v, has c %v; want index 2 with a and c", got, s.HasQueue("a"), s.HasQueue("c"))
	}
}
