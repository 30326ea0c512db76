package storage_test

import (
	"strings"
	"testing"
	"time"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
)

func TestSelectionLimitsProductionValues(t *testing.T) {
	if n, b := storage.SelectionLimits(); n != 10000 || b != 256<<20 {
		t.Fatalf("SelectionLimits() = %d, %d; want 10000, 256 MiB", n, b)
	}
}

// A replay over the count or body-bytes bound of one selection changes
// nothing and answers ErrSelectionTooLarge; within both it works.
func TestReplayOverSelectionBoundsChangesNothing(t *testing.T) {
	defer storage.SetSelectionLimitsForTesting(3, 100)()
	h := st.New(t)
	h.PutQueue("a", st.Config("a", true))
	var ids []string
	for _, b := range []string{"m0", "m1", "m2", "m3"} {
		ids = append(ids, h.Publish(b, "a"))
		h.Advance(time.Second)
	}
	big := h.Publish(strings.Repeat("x", 99), "a") // 99 bytes: with m0, 101
	before := h.Stats("a")

	for _, tc := range []struct {
		name string
		op   *pb.Replay
	}{
		{"all: 5 messages", &pb.Replay{Queue: "a"}},
		{"ids: 4 messages", &pb.Replay{Queue: "a", MessageIds: ids}},
		{"ids: 2 messages, 100+ bytes", &pb.Replay{Queue: "a", MessageIds: []string{ids[0], big}}},
		{"since: 4 messages", &pb.Replay{Queue: "a", SinceUnixNano: st.T0 + int64(time.Second)}},
	} {
		res := adminCall{tc.op}.run(h)
		st.WantErr(t, tc.name, res.Err, storage.ErrSelectionTooLarge)
		if res.Count != 0 {
			t.Errorf("%s: count %d", tc.name, res.Count)
		}
		if after := h.Stats("a"); after != before {
			t.Fatalf("%s: stats %+v, were %+v", tc.name, after, before)
		}
	}
	// Narrowed: within both bounds.
	res := adminCall{&pb.Replay{Queue: "a", UntilUnixNano: st.T0 + 3*int64(time.Second)}}.run(h)
	if res.Err != nil || res.Count != 3 {
		t.Fatalf("narrowed replay: %+v, want 3", res)
	}
	res = adminCall{&pb.Replay{Queue: "a", MessageIds: []string{big}}}.run(h)
	if res.Err != nil || res.Count != 1 {
		t.Fatalf("replay of the big one alone: %+v, want 1", res)
	}
}

func TestRedriveOverSelectionBoundsChangesNothing(t *testing.T) {
	defer storage.SetSelectionLimitsForTesting(2, 100)()
	h := st.New(t)
	h.PutQueue("a", st.Config("a", true))
	var ids []string
	for _, b := range []string{"x", "y", strings.Repeat("z", 100)} {
		ids = append(ids, h.Publish(b, "a"))
		d := h.LeaseOne("a")
		h.Settle("a", st.Reject(d.DeliveryID, ""))
	}
	dlq, origin := h.Stats("a.dlq"), h.Stats("a")
	for _, op := range []*pb.Redrive{
		{Queue: "a.dlq"},
		{Queue: "a.dlq", MessageIds: []string{ids[0], ids[2]}},
	} {
		res := adminCall{op}.run(h)
		st.WantErr(t, "redrive", res.Err, storage.ErrSelectionTooLarge)
		if a, b := h.Stats("a.dlq"), h.Stats("a"); a != dlq || b != origin {
			t.Fatalf("refused redrive changed stats: %+v %+v, were %+v %+v", a, b, dlq, origin)
		}
	}
	res := adminCall{&pb.Redrive{Queue: "a.dlq", MessageIds: ids[:2]}}.run(h)
	if res.Err != nil || res.Count != 2 {
		t.Fatalf("narrowed redrive: %+v, want 2", res)
	}
}
