package storage_test

import (
	"crypto/sha256"
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
)

func TestPutQueueCreatesDeadLetterQueueWithIt(t *testing.T) {
	h := st.New(t)
	cfg := st.Config("orders", true)
	cfg.VisibilityTimeoutNanos = int64(time.Minute)
	var res storage.Result
	h.Apply(func(tx *storage.Txn) { res = tx.PutQueue(&pb.PutQueue{Name: "orders", Config: cfg}) })
	if res.Err != nil || !res.Created {
		t.Fatalf("create: %+v", res)
	}
	dlq, err := h.Store.Queue("orders.dlq", h.Now)
	if err != nil {
		t.Fatalf("DLQ not created: %v", err)
	}
	c := dlq.Config
	if c.MaxAttempts != 0 || c.DeadLetterQueue != "" || c.VisibilityTimeoutNanos != int64(time.Minute) ||
		c.RetentionNanos != cfg.RetentionNanos || c.CreatedUnixNano != h.Now {
		t.Errorf("DLQ settings %v: want no attempt limit, no DLQ, the rest inherited", c)
	}
	// Updating keeps the creation time and the counters.
	h.Publish("m", "orders")
	created := h.Now
	h.Advance(time.Hour)
	cfg.MaxAttempts = 9
	h.Apply(func(tx *storage.Txn) { res = tx.PutQueue(&pb.PutQueue{Name: "orders", Config: cfg}) })
	info, _ := h.Store.Queue("orders", h.Now)
	if res.Created || info.Config.MaxAttempts != 9 || info.Config.CreatedUnixNano != created || info.Stats.Enqueued != 1 {
		t.Errorf("update: %+v, %v %+v", res, info.Config, info.Stats)
	}
	// An existing queue named as DLQ is left as it is.
	h.PutQueue("shared", st.Config("shared", false))
	other := st.Config("other", false)
	other.DeadLetterQueue = "shared"
	h.PutQueue("other", other)
	if s, _ := h.Store.Queue("shared", h.Now); s.Config.MaxAttempts != 5 {
		t.Errorf("existing queue's settings replaced by DLQ defaults: %v", s.Config)
	}
	infos, _ := h.Store.Queues(h.Now)
	var names []string
	for _, i := range infos {
		names = append(names, i.Name)
	}
	if !sameStrings(names, []string{"orders", "orders.dlq", "other", "shared"}) {
		t.Errorf("queues = %v", names)
	}
}

func TestDeleteQueueDropsMessagesAndSourceReferences(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.PutQueue("b", st.Config("b", false))
	var res storage.Result
	h.Apply(func(tx *storage.Txn) {
		res = tx.PutSource(&pb.PutSource{Name: "gh", Config: &pb.SourceConfig{Queues: []string{"a", "b"}, VerifyType: "github"}})
	})
	if res.Err != nil || !res.Created {
		t.Fatalf("put source: %+v", res)
	}
	id := h.Publish("m", "a", "b")
	d := h.LeaseOne("a")
	h.Apply(func(tx *storage.Txn) { res = tx.DeleteQueue(&pb.DeleteQueue{Name: "a"}) })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if _, err := h.Store.Queue("a", h.Now); err != storage.ErrQueueNotFound {
		t.Errorf("deleted queue: %v", err)
	}
	if src, err := h.Store.Source("gh"); err != nil || !sameStrings(src.Queues, []string{"b"}) {
		t.Errorf("source after delete: %v, %v", src, err)
	}
	if _, _, err := h.Store.Message("b", id); err != nil {
		t.Errorf("the copy in b went with a: %v", err)
	}
	var sr storage.SettleResult
	h.Apply(func(tx *storage.Txn) {
		sr = tx.Settle(&pb.Settle{Queue: "a", Items: []*pb.SettleItem{st.Ack(d.DeliveryID)}})
	})
	st.WantErr(t, "settle on the deleted queue", sr.Err, storage.ErrQueueNotFound)
	// Recreated, it starts empty.
	h.PutQueue("a", st.Config("a", false))
	h.WantStats("a", storage.Stats{})
	if _, _, err := h.Store.Message("a", id); err == nil {
		t.Errorf("message survived delete and recreate")
	}
	h.Apply(func(tx *storage.Txn) { res = tx.DeleteQueue(&pb.DeleteQueue{Name: "nope"}) })
	st.WantErr(t, "delete unknown", res.Err, storage.ErrQueueNotFound)
	h.Apply(func(tx *storage.Txn) {
		res = tx.PutSource(&pb.PutSource{Name: "x", Config: &pb.SourceConfig{Queues: []string{"b", "nope"}}})
	})
	st.WantErr(t, "source feeding an unknown queue", res.Err, storage.ErrQueueNotFound)
	if _, err := h.Store.Source("x"); err != storage.ErrSourceNotFound {
		t.Errorf("rejected source stored: %v", err)
	}
	h.Apply(func(tx *storage.Txn) { res = tx.DeleteSource(&pb.DeleteSource{Name: "gh"}) })
	if _, err := h.Store.Source("gh"); res.Err != nil || err != storage.ErrSourceNotFound {
		t.Errorf("delete source: %v, then %v", res.Err, err)
	}
}

func TestTokensAndNodes(t *testing.T) {
	h := st.New(t)
	sum := sha256.Sum256([]byte("secret"))
	tok := &pb.TokenRecord{Name: "ci", Sha256: sum[:], Scopes: []string{"publish:*"}}
	var r1, r2 storage.Result
	h.Apply(func(tx *storage.Txn) {
		r1 = tx.PutToken(&pb.PutToken{Token: tok})
		r2 = tx.PutToken(&pb.PutToken{Token: tok})
	})
	if r1.Err != nil || !r1.Created {
		t.Fatalf("put token: %+v", r1)
	}
	st.WantErr(t, "duplicate token name", r2.Err, storage.ErrTokenExists)
	if got, ok := h.Store.TokenBySecret("secret"); !ok || got.Name != "ci" || got.CreatedUnixNano != h.Now {
		t.Errorf("token by secret: %v %v", got, ok)
	}
	if _, ok := h.Store.TokenBySecret("wrong"); ok {
		t.Errorf("wrong secret found a token")
	}
	h.Apply(func(tx *storage.Txn) { r1 = tx.DeleteToken(&pb.DeleteToken{Name: "ci"}) })
	if _, ok := h.Store.TokenBySecret("secret"); ok || r1.Err != nil {
		t.Errorf("revoked token still found (%v)", r1.Err)
	}
	h.Apply(func(tx *storage.Txn) {
		tx.PutNode(&pb.PutNode{Node: &pb.NodeRecord{Id: "n2", RaftAddr: "b:7000"}})
		tx.PutNode(&pb.PutNode{Node: &pb.NodeRecord{Id: "n1", RaftAddr: "a:7000"}})
		r1 = tx.DeleteNode(&pb.DeleteNode{Id: "n3"})
	})
	st.WantErr(t, "delete unknown node", r1.Err, storage.ErrNodeNotFound)
	nodes, err := h.Store.Nodes()
	if err != nil || len(nodes) != 2 || nodes[0].Id != "n1" || nodes[1].RaftAddr != "b:7000" {
		t.Errorf("nodes = %v, %v", nodes, err)
	}
}

func TestNextAvailableIsEarliestPendingOrLeaseEnd(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	if _, ok := h.Store.NextAvailable("a"); ok {
		t.Errorf("empty queue has a next available time")
	}
	h.Publish("m", "a")
	d := h.Lease("a", 1, 10*time.Second)[0]
	if at, ok := h.Store.NextAvailable("a"); !ok || at != d.LeaseExpires {
		t.Errorf("next available %d %v, want the lease end %d", at, ok, d.LeaseExpires)
	}
	h.Settle("a", st.NackAfter(d.DeliveryID, 3*time.Second))
	if at, ok := h.Store.NextAvailable("a"); !ok || at != h.Now+int64(3*time.Second) {
		t.Errorf("next available %d, want now+3s", at)
	}
}

// TestCaptureSourceSecretKeepsTheCommittedSettings: a capture (Asana's
// handshake) sets only the secret, on the settings committed when it
// applies, not on the stale copy the proposer read; once a secret is
// stored, the same secret again is a no-op and another one is refused.
func TestCaptureSourceSecretKeepsTheCommittedSettings(t *testing.T) {
	h := st.New(t)
	h.PutQueue("a", st.Config("a", false))
	h.PutQueue("b", st.Config("b", false))
	var res storage.Result
	put := func(op *pb.PutSource) storage.Result {
		h.Apply(func(tx *storage.Txn) { res = tx.PutSource(op) })
		return res
	}
	if r := put(&pb.PutSource{Name: "as", Config: &pb.SourceConfig{Queues: []string{"a"}, VerifyType: "asana"}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	// The operator moved the source to queue b after the proposer read it.
	if r := put(&pb.PutSource{Name: "as", Config: &pb.SourceConfig{Queues: []string{"b"}, VerifyType: "asana"}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	stale := &pb.SourceConfig{Queues: []string{"a"}, VerifyType: "asana", Secrets: []string{"s1"}}
	if r := put(&pb.PutSource{Name: "as", Config: stale, CaptureSecret: true}); r.Err != nil {
		t.Fatal(r.Err)
	}
	src, err := h.Store.Source("as")
	if err != nil || !sameStrings(src.Queues, []string{"b"}) || !sameStrings(src.Secrets, []string{"s1"}) {
		t.Fatalf("after capture: queues %v, %d secrets, %v", src.GetQueues(), len(src.GetSecrets()), err)
	}
	if r := put(&pb.PutSource{Name: "as", Config: stale, CaptureSecret: true}); r.Err != nil {
		t.Errorf("same secret again: %v", r.Err)
	}
	other := &pb.SourceConfig{Queues: []string{"b"}, VerifyType: "asana", Secrets: []string{"s2"}}
	st.WantErr(t, "another secret", put(&pb.PutSource{Name: "as", Config: other, CaptureSecret: true}).Err, storage.ErrSourceHasSecret)
	st.WantErr(t, "unknown source", put(&pb.PutSource{Name: "nope", Config: other, CaptureSecret: true}).Err, storage.ErrSourceNotFound)
	if src, _ := h.Store.Source("as"); !sameStrings(src.Secrets, []string{"s1"}) {
		t.Errorf("a refused capture changed the secret")
	}
}
