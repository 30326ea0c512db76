// Package storagetest holds test helpers for package storage and its
// callers: stores in temporary directories and a Harness that applies
// operations as numbered Raft entries at a controlled clock.
//
// Nothing here reads the wall clock or randomness: time is Harness.Now and
// delivery randomness is a counter, so every test is deterministic.
package storagetest

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
)

// T0 is the clock every Harness starts at: 2026-01-01T00:00:00Z.
var T0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// MustOpen opens a Store in a fresh temporary directory and closes it when
// the test ends.
func MustOpen(tb testing.TB) *storage.Store {
	tb.Helper()
	return MustOpenDir(tb, tb.TempDir())
}

// MustOpenDir opens a Store under dir and closes it when the test ends.
func MustOpenDir(tb testing.TB, dir string) *storage.Store {
	tb.Helper()
	s, err := storage.Open(dir)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return s
}

// Config returns queue settings with every field set: docs/API.md §3.1 defaults
// except that the dead-letter queue is "<name>.dlq" only when dlq is true.
func Config(name string, dlq bool) *pb.QueueConfig {
	c := storage.DefaultQueueConfig(name)
	if !dlq {
		c.DeadLetterQueue = ""
	}
	return c
}

// Rand returns the 16 delivery-random bytes numbered n.
func Rand(n uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, 0x686f6f6b71000000) // "hookq"
	binary.BigEndian.PutUint64(b[8:], n)
	return b
}

// Harness applies operations to a Store, each call one Raft entry with the
// next index at Now.
type Harness struct {
	tb    testing.TB
	Store *storage.Store
	Index uint64 // index of the last applied entry
	Now   int64  // leader time carried by the next entry
	rands uint64
}

// New returns a Harness over a fresh store, at T0.
func New(tb testing.TB) *Harness {
	tb.Helper()
	return &Harness{tb: tb, Store: MustOpen(tb), Now: T0}
}

// Advance moves the leader clock forward.
func (h *Harness) Advance(d time.Duration) { h.Now += int64(d) }

// Apply runs fn inside one committed entry.
func (h *Harness) Apply(fn func(*storage.Txn)) {
	h.tb.Helper()
	h.Index++
	txn := h.Store.Begin()
	txn.SetEntry(h.Index, h.Now)
	fn(txn)
	if err := txn.Commit(); err != nil {
		h.tb.Fatalf("commit entry %d: %v", h.Index, err)
	}
}

// PutQueue creates or replaces a queue and fails the test on error.
func (h *Harness) PutQueue(name string, cfg *pb.QueueConfig) {
	h.tb.Helper()
	var res storage.Result
	h.Apply(func(t *storage.Txn) { res = t.PutQueue(&pb.PutQueue{Name: name, Config: cfg}) })
	if res.Err != nil {
		h.tb.Fatalf("put queue %s: %v", name, res.Err)
	}
}

// Enqueue applies one Enqueue.
func (h *Harness) Enqueue(op *pb.Enqueue) storage.EnqueueResult {
	h.tb.Helper()
	var res storage.EnqueueResult
	h.Apply(func(t *storage.Txn) { res = t.Enqueue(op) })
	return res
}

// Publish enqueues body into queues and returns its messageId; any error
// fails the test.
func (h *Harness) Publish(body string, queues ...string) string {
	h.tb.Helper()
	res := h.Enqueue(&pb.Enqueue{Source: "src", Queues: queues, Body: []byte(body), ContentType: []byte("text/plain")})
	if res.Err != nil || res.Duplicate {
		h.tb.Fatalf("publish %q to %v: %+v", body, queues, res)
	}
	return res.MessageID
}

// Rands draws n fresh delivery randoms.
func (h *Harness) Rands(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		h.rands++
		out[i] = Rand(h.rands)
	}
	return out
}

// LeaseOp applies one Lease of up to n messages.
func (h *Harness) LeaseOp(q string, n int, vis time.Duration, autoAck bool) storage.LeaseResult {
	h.tb.Helper()
	op := &pb.Lease{Queue: q, DeliveryRands: h.Rands(n), VisibilityNanos: int64(vis), AutoAck: autoAck}
	var res storage.LeaseResult
	h.Apply(func(t *storage.Txn) { res = t.Lease(op) })
	return res
}

// Lease leases up to n messages of q with visibility vis (0: the queue's);
// an error fails the test.
func (h *Harness) Lease(q string, n int, vis time.Duration) []storage.Delivery {
	h.tb.Helper()
	res := h.LeaseOp(q, n, vis, false)
	if res.Err != nil {
		h.tb.Fatalf("lease %s: %v", q, res.Err)
	}
	return res.Deliveries
}

// LeaseOne leases exactly one message of q and fails the test otherwise.
func (h *Harness) LeaseOne(q string) storage.Delivery {
	h.tb.Helper()
	ds := h.Lease(q, 1, 0)
	if len(ds) != 1 {
		h.tb.Fatalf("lease %s: got %d deliveries, want 1", q, len(ds))
	}
	return ds[0]
}

// Settle applies one Settle and fails the test on a queue-level error.
func (h *Harness) Settle(q string, items ...*pb.SettleItem) []storage.SettleItemResult {
	h.tb.Helper()
	var res storage.SettleResult
	h.Apply(func(t *storage.Txn) { res = t.Settle(&pb.Settle{Queue: q, Items: items}) })
	if res.Err != nil {
		h.tb.Fatalf("settle %s: %v", q, res.Err)
	}
	if len(res.Items) != len(items) {
		h.tb.Fatalf("settle %s: %d results for %d items", q, len(res.Items), len(items))
	}
	return res.Items
}

// SettleOne settles one item and returns its error.
func (h *Harness) SettleOne(q string, it *pb.SettleItem) error {
	h.tb.Helper()
	return h.Settle(q, it)[0].Err
}

// Sweep applies a Sweep with the default limit.
func (h *Harness) Sweep() storage.Result {
	h.tb.Helper()
	var res storage.Result
	h.Apply(func(t *storage.Txn) { res = t.Sweep(&pb.Sweep{}) })
	return res
}

// Stats returns q's stats at Now.
func (h *Harness) Stats(q string) storage.Stats {
	h.tb.Helper()
	info, err := h.Store.Queue(q, h.Now)
	if err != nil {
		h.tb.Fatalf("queue %s: %v", q, err)
	}
	return info.Stats
}

// WantStats fails the test unless q's stats at Now are want.
func (h *Harness) WantStats(q string, want storage.Stats) {
	h.tb.Helper()
	if got := h.Stats(q); got != want {
		h.tb.Errorf("stats of %s:\n got %+v\nwant %+v", q, got, want)
	}
}

// Record returns the record of message id in q, failing the test when q
// does not hold it.
func (h *Harness) Record(q, id string) *pb.MessageRecord {
	h.tb.Helper()
	rec, _, err := h.Store.Message(q, id)
	if err != nil {
		h.tb.Fatalf("message %s/%s: %v", q, id, err)
	}
	return rec
}

// WantErr fails the test unless errors.Is(got, want) (want nil: got nil).
func WantErr(tb testing.TB, what string, got, want error) {
	tb.Helper()
	if want == nil && got != nil || want != nil && !errors.Is(got, want) {
		tb.Errorf("%s: err = %v, want %v", what, got, want)
	}
}

// Ack, Nack, NackAfter, Reject and Extend build settle items.
func Ack(id string) *pb.SettleItem {
	return &pb.SettleItem{DeliveryId: id, Action: pb.SettleAction_ACK}
}

// Nack asks for the queue's backoff.
func Nack(id string) *pb.SettleItem {
	return &pb.SettleItem{DeliveryId: id, Action: pb.SettleAction_NACK}
}

// NackAfter nacks with an explicit delay.
func NackAfter(id string, d time.Duration) *pb.SettleItem {
	return &pb.SettleItem{DeliveryId: id, Action: pb.SettleAction_NACK, HasDelay: true, DelayNanos: int64(d)}
}

// Reject dead-letters with reason ("" for the default).
func Reject(id, reason string) *pb.SettleItem {
	return &pb.SettleItem{DeliveryId: id, Action: pb.SettleAction_REJECT, Reason: reason}
}

// Extend asks for a lease ending vis from now.
func Extend(id string, vis time.Duration) *pb.SettleItem {
	return &pb.SettleItem{DeliveryId: id, Action: pb.SettleAction_EXTEND, VisibilityNanos: int64(vis)}
}
