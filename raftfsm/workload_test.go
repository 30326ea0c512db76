package raftfsm_test

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
)

// workload plays a leader: it proposes random entries that use every op
// type, applies each to its own FSM, and feeds the deliveryIds and
// messageIds it gets back into later entries. logs is the resulting Raft log.
type workload struct {
	tb     testing.TB
	rng    *rand.Rand
	leader *raftfsm.FSM
	logs   []*raft.Log
	now    int64
	dels   []string // deliveryIds handed out
	msgs   []string // messageIds created
	rands  uint64
}

func newWorkload(tb testing.TB, seed uint64) *workload {
	tb.Helper()
	w := &workload{tb: tb, rng: rand.New(rand.NewPCG(seed, 1)), leader: mustFSM(tb), now: st.T0}
	a := st.Config("a", true)
	a.MaxAttempts = 2
	a.VisibilityTimeoutNanos = int64(5 * time.Second)
	a.RetentionNanos = int64(20 * time.Second)
	a.BackoffNanos = []int64{int64(time.Second), int64(3 * time.Second)}
	b := st.Config("b", false)
	b.MaxAttempts = 0
	b.MaxDepth = 50
	w.propose(putQueueOp("a", a), putQueueOp("b", b),
		&pb.Op{Kind: &pb.Op_PutSource{PutSource: &pb.PutSource{Name: "gh", Config: &pb.SourceConfig{Queues: []string{"a", "b"}, VerifyType: "github"}}}})
	return w
}

// run proposes n more entries.
func (w *workload) run(n int) {
	w.tb.Helper()
	for i := 0; i < n; i++ {
		w.now += w.rng.Int64N(int64(3 * time.Second))
		if w.rng.IntN(20) == 0 {
			w.now -= int64(time.Second) // a leader clock behind the last one
		}
		if w.rng.IntN(15) == 0 {
			w.apply(&raft.Log{Index: uint64(len(w.logs) + 1), Term: 2, Type: raft.LogNoop})
			continue
		}
		ops := make([]*pb.Op, 1+w.rng.IntN(3))
		for j := range ops {
			ops[j] = w.op()
		}
		w.propose(ops...)
	}
}

func (w *workload) propose(ops ...*pb.Op) {
	w.tb.Helper()
	w.apply(cmdLog(w.tb, uint64(len(w.logs)+1), w.now, ops...))
}

func (w *workload) apply(l *raft.Log) {
	w.tb.Helper()
	w.logs = append(w.logs, l)
	r, _ := w.leader.Apply(l).(*raftfsm.Response)
	if r == nil {
		return
	}
	for _, res := range r.Results {
		switch res := res.(type) {
		case storage.EnqueueResult:
			if res.Err == nil && !res.Duplicate {
				w.msgs = append(w.msgs, res.MessageID)
			}
		case storage.LeaseResult:
			for _, d := range res.Deliveries {
				w.dels = append(w.dels, d.DeliveryID)
			}
		}
	}
}

func (w *workload) pick(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return s[len(s)-1-w.rng.IntN(min(len(s), 10))]
}

func (w *workload) queue() string { return []string{"a", "b", "a.dlq"}[w.rng.IntN(3)] }

func (w *workload) op() *pb.Op {
	r := w.rng
	switch k := r.IntN(41); {
	case k < 12:
		e := &pb.Enqueue{Source: "gh", Queues: [][]string{{"a"}, {"b"}, {"a", "b"}}[r.IntN(3)],
			Body: fmt.Appendf(nil, "body-%d", r.IntN(1000)), ContentType: []byte("application/json"),
			Headers: []*pb.Header{{Name: "X-N", Value: fmt.Append(nil, k)}}}
		if r.IntN(3) == 0 {
			e.DedupKey, e.DedupWindowNanos = fmt.Sprint("k", r.IntN(4)), int64(10*time.Second)
		}
		return &pb.Op{Kind: &pb.Op_Enqueue{Enqueue: e}}
	case k < 20:
		rands := make([][]byte, 1+r.IntN(3))
		for i := range rands {
			w.rands++
			sum := sha256.Sum256(fmt.Append(nil, w.rands))
			rands[i] = sum[:16]
		}
		return leaseOp(w.queue(), rands, []int64{0, int64(2 * time.Second)}[r.IntN(2)], r.IntN(8) == 0)
	case k < 32:
		it := &pb.SettleItem{DeliveryId: w.pick(w.dels), Action: pb.SettleAction(1 + r.IntN(4))}
		it.HasDelay, it.DelayNanos = r.IntN(2) == 0, int64(r.IntN(3))*int64(time.Second)
		it.VisibilityNanos = int64(1+r.IntN(10)) * int64(time.Second)
		return settleOp(w.queue(), it)
	case k < 35:
		return &pb.Op{Kind: &pb.Op_Sweep{Sweep: &pb.Sweep{Limit: int32(r.IntN(4))}}}
	case k == 35:
		return &pb.Op{Kind: &pb.Op_Redrive{Redrive: &pb.Redrive{Queue: "a.dlq"}}}
	case k == 36:
		return &pb.Op{Kind: &pb.Op_Replay{Replay: &pb.Replay{Queue: w.queue(), MessageIds: []string{w.pick(w.msgs)}}}}
	case k == 37:
		return &pb.Op{Kind: &pb.Op_Purge{Purge: &pb.Purge{Queue: "b"}}}
	case k == 38:
		name := fmt.Sprint("tok", r.IntN(3))
		if r.IntN(2) == 0 {
			return &pb.Op{Kind: &pb.Op_DeleteToken{DeleteToken: &pb.DeleteToken{Name: name}}}
		}
		sum := sha256.Sum256([]byte(name))
		return &pb.Op{Kind: &pb.Op_PutToken{PutToken: &pb.PutToken{Token: &pb.TokenRecord{Name: name, Sha256: sum[:], Scopes: []string{"admin"}}}}}
	case k == 39:
		if r.IntN(2) == 0 {
			return &pb.Op{Kind: &pb.Op_DeleteQueue{DeleteQueue: &pb.DeleteQueue{Name: "b"}}}
		}
		return putQueueOp("b", st.Config("b", false))
	default:
		id := fmt.Sprint("n", r.IntN(3))
		switch r.IntN(4) {
		case 0:
			return &pb.Op{Kind: &pb.Op_DeleteNode{DeleteNode: &pb.DeleteNode{Id: id}}}
		case 1:
			return &pb.Op{Kind: &pb.Op_PutSource{PutSource: &pb.PutSource{Name: "s" + id, Config: &pb.SourceConfig{Queues: []string{"b"}}}}}
		case 2:
			return &pb.Op{Kind: &pb.Op_DeleteSource{DeleteSource: &pb.DeleteSource{Name: "s" + id}}}
		}
		return &pb.Op{Kind: &pb.Op_PutNode{PutNode: &pb.PutNode{Node: &pb.NodeRecord{Id: id, RaftAddr: "127.0.0.1:7000"}}}}
	}
}

// applyChunks applies logs to f in ApplyBatch calls of the given sizes
// (cycled), returning the answers in log order.
func applyChunks(f *raftfsm.FSM, logs []*raft.Log, sizes ...int) []any {
	var out []any
	for i, k := 0, 0; i < len(logs); k++ {
		n := min(sizes[k%len(sizes)], len(logs)-i)
		out = append(out, f.ApplyBatch(logs[i:i+n])...)
		i += n
	}
	return out
}
