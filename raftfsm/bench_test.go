package raftfsm_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
	st "github.com/hookq/hookq/storage/storagetest"
	"google.golang.org/protobuf/proto"
)

// benchFSM returns an FSM with queue "a" (no depth limit) at index 1.
func benchFSM(b *testing.B) *raftfsm.FSM {
	b.Helper()
	f := mustFSM(b)
	cfg := st.Config("a", true)
	cfg.MaxDepth = 0
	f.ApplyBatch([]*raft.Log{cmdLog(b, 1, st.T0, putQueueOp("a", cfg))})
	return f
}

func mustMarshal(b *testing.B, m proto.Message) []byte {
	b.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkApplyEnqueue1KiB is the FSM's cost per 1 KiB webhook: decode,
// message record, body and ready index in Pebble, stats, applied index.
// perEntry ops share one Raft entry, as the leader's batcher does.
func BenchmarkApplyEnqueue1KiB(b *testing.B) {
	body := make([]byte, 1024)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	for _, perEntry := range []int{1, 64} {
		b.Run(fmt.Sprintf("perEntry=%d", perEntry), func(b *testing.B) {
			f := benchFSM(b)
			op := &pb.Op{Kind: &pb.Op_Enqueue{Enqueue: &pb.Enqueue{
				Source: "gh", Queues: []string{"a"}, Body: body, ContentType: []byte("application/json"),
				Headers: []*pb.Header{{Name: "X-Github-Event", Value: []byte("push")}, {Name: "X-Github-Delivery", Value: []byte("72d3162e-cc78-11e3-81ab-4c9367dc0958")}},
			}}}
			data := map[int][]byte{}
			cmd := func(n int) []byte {
				if data[n] == nil {
					c := &pb.Command{LeaderTimeUnixNano: st.T0}
					for range n {
						c.Ops = append(c.Ops, op)
					}
					data[n] = mustMarshal(b, c)
				}
				return data[n]
			}
			index := uint64(1)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := st.ProcessCPU()
			for i := 0; i < b.N; i += perEntry {
				index++
				r := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: cmd(min(perEntry, b.N-i))})
				if res := r.(*raftfsm.Response).Results[0].(storage.EnqueueResult); res.Err != nil {
					b.Fatal(res.Err)
				}
			}
			st.ReportCPU(b, cpu0)
		})
	}
}

// BenchmarkApplyLeaseAck is the FSM's cost to lease one message and then
// ack it (two entries, or two per perEntry messages); the settle command
// is encoded inside the loop, as it carries the deliveryIds just leased.
func BenchmarkApplyLeaseAck(b *testing.B) {
	for _, perEntry := range []int{1, 64} {
		b.Run(fmt.Sprintf("perEntry=%d", perEntry), func(b *testing.B) {
			f := benchFSM(b)
			index := uint64(1)
			fill := &pb.Command{LeaderTimeUnixNano: st.T0}
			for range 1000 {
				fill.Ops = append(fill.Ops, enqueueOp(string(make([]byte, 256)), "a"))
			}
			fillData := mustMarshal(b, fill)
			for n := 0; n < b.N; n += 1000 {
				index++
				f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: fillData})
			}
			rands := make([][]byte, perEntry)
			for i := range rands {
				rands[i] = st.Rand(uint64(i))
			}
			leaseData := map[int][]byte{}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := st.ProcessCPU()
			defer st.ReportCPU(b, cpu0)
			for i := 0; i < b.N; i += perEntry {
				n := min(perEntry, b.N-i)
				if leaseData[n] == nil {
					leaseData[n] = mustMarshal(b, &pb.Command{LeaderTimeUnixNano: st.T0 + 1, Ops: []*pb.Op{leaseOp("a", rands[:n], 0, false)}})
				}
				index++
				r := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: leaseData[n]})
				res := r.(*raftfsm.Response).Results[0].(storage.LeaseResult)
				if res.Err != nil || len(res.Deliveries) != n {
					b.Fatalf("lease: %d deliveries, %v", len(res.Deliveries), res.Err)
				}
				settle := &pb.Settle{Queue: "a"}
				for _, d := range res.Deliveries {
					settle.Items = append(settle.Items, &pb.SettleItem{DeliveryId: d.DeliveryID, Action: pb.SettleAction_ACK})
				}
				index++
				data := mustMarshal(b, &pb.Command{LeaderTimeUnixNano: st.T0 + 1, Ops: []*pb.Op{{Kind: &pb.Op_Settle{Settle: settle}}}})
				r = f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data})
				if items := r.(*raftfsm.Response).Results[0].(storage.SettleResult).Items; items[0].Err != nil {
					b.Fatal(items[0].Err)
				}
			}
		})
	}
}

// BenchmarkCommandCodec is the leader's encode and every replica's decode
// of one Raft entry carrying 64 enqueues of 1 KiB (one group commit).
func BenchmarkCommandCodec(b *testing.B) {
	body := make([]byte, 1024)
	cmd := &pb.Command{LeaderTimeUnixNano: st.T0}
	for range 64 {
		cmd.Ops = append(cmd.Ops, &pb.Op{Kind: &pb.Op_Enqueue{Enqueue: &pb.Enqueue{
			Source: "gh", Queues: []string{"a"}, Body: body, ContentType: []byte("application/json"), EventId: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
			DedupKey: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", DedupWindowNanos: 1 << 40,
			Headers: []*pb.Header{{Name: "Webhook-Id", Value: []byte("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")}, {Name: "Webhook-Timestamp", Value: []byte("1735689600")}},
		}}})
	}
	b.SetBytes(64 * int64(len(body)))
	b.ReportAllocs()
	cpu0 := st.ProcessCPU()
	defer st.ReportCPU(b, cpu0)
	for b.Loop() {
		data, err := proto.Marshal(cmd)
		if err != nil {
			b.Fatal(err)
		}
		var got pb.Command
		if err := proto.Unmarshal(data, &got); err != nil || len(got.Ops) != 64 {
			b.Fatalf("decode: %d ops, %v", len(got.Ops), err)
		}
	}
}
