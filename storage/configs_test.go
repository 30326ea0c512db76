package storage

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/protobuf/proto"
)

// wantConfigsMatchDB fails unless the store's in-memory configs equal a
// fresh decode of its Pebble database, key for key.
func wantConfigsMatchDB(t *testing.T, s *Store, when string) {
	t.Helper()
	var fresh configs
	s.mu.RLock()
	err := fresh.load(s.db)
	s.mu.RUnlock()
	if err != nil {
		t.Fatalf("%s: load: %v", when, err)
	}
	s.cfgs.mu.RLock()
	defer s.cfgs.mu.RUnlock()
	if len(fresh.m) != len(s.cfgs.m) {
		t.Fatalf("%s: %d configs in memory, %d in Pebble", when, len(s.cfgs.m), len(fresh.m))
	}
	for k, want := range fresh.m {
		got, ok := s.cfgs.m[k]
		if !ok {
			t.Fatalf("%s: %q in Pebble, not in memory", when, k)
		}
		wm, isMsg := want.(proto.Message)
		gm, _ := got.(proto.Message)
		if isMsg && !proto.Equal(wm, gm) || !isMsg && got != want {
			t.Fatalf("%s: %q is %v in memory, %v in Pebble", when, k, got, want)
		}
	}
}

func applyEntry(t *testing.T, s *Store, index uint64, fn func(*Txn)) {
	t.Helper()
	txn := s.Begin()
	txn.SetEntry(index, int64(index)*1000)
	fn(txn)
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
}

func tokenOp(name, secret string) *pb.PutToken {
	sum := sha256.Sum256([]byte(secret))
	return &pb.PutToken{Token: &pb.TokenRecord{Name: name, Sha256: sum[:], Scopes: []string{"consume"}}}
}

// The configs a webhook, lease and settle read come from memory; they
// follow every committed put and delete (including what DeleteQueue does
// to sources), ignore a discarded transaction, are read by a transaction
// that wrote them before it commits, and are rebuilt the same on reopen
// and after a snapshot restore.
func TestConfigsInMemoryFollowPebble(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx := uint64(0)
	next := func() uint64 { idx++; return idx }
	for i := range 5 {
		applyEntry(t, s, next(), func(x *Txn) {
			q := fmt.Sprintf("q%d", i)
			if r := x.PutQueue(&pb.PutQueue{Name: q, Config: DefaultQueueConfig(q)}); r.Err != nil {
				t.Fatal(r.Err)
			}
			// Read back inside the same transaction, before Commit.
			if _, ok := x.queue(q); !ok {
				t.Fatalf("queue %s not visible to the transaction that created it", q)
			}
		})
	}
	applyEntry(t, s, next(), func(x *Txn) {
		if r := x.PutSource(&pb.PutSource{Name: "gh", Config: &pb.SourceConfig{Queues: []string{"q0", "q1"}, VerifyType: "none"}}); r.Err != nil {
			t.Fatal(r.Err)
		}
		if r := x.PutToken(tokenOp("ci", "secret-ci")); r.Err != nil {
			t.Fatal(r.Err)
		}
		if r := x.PutToken(tokenOp("ops", "secret-ops")); r.Err != nil {
			t.Fatal(r.Err)
		}
	})
	wantConfigsMatchDB(t, s, "after puts")
	if src, err := s.Source("gh"); err != nil || len(src.Queues) != 2 {
		t.Fatalf("Source(gh) = %v, %v", src, err)
	}
	if tok, ok := s.TokenBySecret("secret-ci"); !ok || tok.Name != "ci" {
		t.Fatalf("TokenBySecret(ci) = %v, %v", tok, ok)
	}

	// A copy handed out does not change the store's.
	src, _ := s.Source("gh")
	src.Queues[0] = "changed"
	if again, _ := s.Source("gh"); again.Queues[0] != "q0" {
		t.Fatalf("modifying a returned source changed the stored one: %v", again.Queues)
	}

	// A discarded transaction leaves memory as it was.
	txn := s.Begin()
	txn.SetEntry(next(), 0)
	txn.DeleteQueue(&pb.DeleteQueue{Name: "q2"})
	txn.DeleteToken(&pb.DeleteToken{Name: "ci"})
	txn.Discard()
	if !s.HasQueue("q2") {
		t.Fatal("a discarded delete removed q2 from memory")
	}
	if _, ok := s.TokenBySecret("secret-ci"); !ok {
		t.Fatal("a discarded token delete revoked the token in memory")
	}
	wantConfigsMatchDB(t, s, "after discard")

	// Deletes, and DeleteQueue's edit of the source feeding it.
	applyEntry(t, s, next(), func(x *Txn) {
		if r := x.DeleteQueue(&pb.DeleteQueue{Name: "q1"}); r.Err != nil {
			t.Fatal(r.Err)
		}
		if r := x.DeleteToken(&pb.DeleteToken{Name: "ci"}); r.Err != nil {
			t.Fatal(r.Err)
		}
	})
	if s.HasQueue("q1") {
		t.Fatal("deleted queue q1 still in memory")
	}
	if src, _ := s.Source("gh"); len(src.Queues) != 1 || src.Queues[0] != "q0" {
		t.Fatalf("source after deleting q1 feeds %v, want [q0]", src.Queues)
	}
	if _, ok := s.TokenBySecret("secret-ci"); ok {
		t.Fatal("revoked token still authenticates")
	}
	if tok, ok := s.TokenBySecret("secret-ops"); !ok || tok.Name != "ops" {
		t.Fatal("the other token stopped authenticating")
	}
	wantConfigsMatchDB(t, s, "after deletes")

	// Snapshot now; change more; restore the snapshot: memory follows.
	var snap bytes.Buffer
	sn := s.Snapshot()
	if _, err := sn.WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	sn.Release()
	applyEntry(t, s, next(), func(x *Txn) {
		x.PutQueue(&pb.PutQueue{Name: "late", Config: DefaultQueueConfig("late")})
		x.DeleteSource(&pb.DeleteSource{Name: "gh"})
	})
	if !s.HasQueue("late") || s.HasQueue("q1") {
		t.Fatal("memory does not follow the later entry")
	}
	if err := s.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	if s.HasQueue("late") {
		t.Fatal("queue created after the snapshot survived its restore in memory")
	}
	if _, err := s.Source("gh"); err != nil {
		t.Fatalf("source gh missing after restore: %v", err)
	}
	wantConfigsMatchDB(t, s, "after restore")

	// Reopen: rebuilt from disk.
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.HasQueue("q0") || s.HasQueue("q1") || !s.HasQueue("q4") {
		t.Fatal("queues in memory after reopen differ from before")
	}
	if _, ok := s.TokenBySecret("secret-ops"); !ok {
		t.Fatal("token lost from memory on reopen")
	}
	wantConfigsMatchDB(t, s, "after reopen")
}
