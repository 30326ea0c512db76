package storage_test

import (
	"strings"
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
)

// BenchmarkSourceLookup is the read every webhook makes before it is
// verified: its source's config, among 100 sources.
func BenchmarkSourceLookup(b *testing.B) {
	h := st.New(b)
	h.PutQueue("q", st.Config("q", false))
	for i := range 100 {
		name := "src" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26))
		h.Apply(func(t *storage.Txn) {
			if res := t.PutSource(&pb.PutSource{Name: name, Config: &pb.SourceConfig{Queues: []string{"q"}, VerifyType: "none"}}); res.Err != nil {
				b.Fatal(res.Err)
			}
		})
	}
	h.Apply(func(t *storage.Txn) {
		t.PutSource(&pb.PutSource{Name: "gh", Config: &pb.SourceConfig{Queues: []string{"q"}, VerifyType: "none"}})
	})
	b.ReportAllocs()
	cpu0 := st.ProcessCPU()
	defer st.ReportCPU(b, cpu0)
	for b.Loop() {
		if _, err := h.Store.Source("gh"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLeaseAckBatch is the storage cost of consuming one message when
// consumers lease and settle batches of 100 (two entries per batch), as
// a broker node does it: NextAvailable, then the lease, then the ack, on
// a queue of 1 KiB messages that were written before (flushed or not).
func BenchmarkLeaseAckBatch(b *testing.B) {
	const batch = 100
	h := st.New(b)
	h.PutQueue("q", st.Config("q", false))
	body := []byte(strings.Repeat("x", 1024))
	fill := func(n int) {
		for i := 0; i < n; i += 64 {
			h.Apply(func(t *storage.Txn) {
				for range min(64, n-i) {
					if res := t.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"q"}, Body: body}); res.Err != nil {
						b.Fatal(res.Err)
					}
				}
			})
		}
	}
	fill(b.N + batch)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := st.ProcessCPU()
	defer st.ReportCPU(b, cpu0)
	for i := 0; i < b.N; i += batch {
		h.Advance(time.Millisecond)
		if _, ok := h.Store.NextAvailable("q"); !ok {
			b.Fatal("NextAvailable: nothing")
		}
		ds := h.Lease("q", min(batch, b.N-i), 30*time.Second)
		items := make([]*pb.SettleItem, len(ds))
		for j, d := range ds {
			items[j] = st.Ack(d.DeliveryID)
		}
		for _, r := range h.Settle("q", items...) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
}
