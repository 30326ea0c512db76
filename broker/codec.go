package broker

import (
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
)

// encodeResult turns a proposal's outcome into its wire form.
func encodeResult(o outcome) *pb.OpResult {
	if o.err != nil {
		return &pb.OpResult{Error: errorCode(o.err)}
	}
	switch r := o.res.(type) {
	case storage.EnqueueResult:
		return &pb.OpResult{Error: errorCode(r.Err), MessageId: r.MessageID, Duplicate: r.Duplicate}
	case storage.LeaseResult:
		out := &pb.OpResult{Error: errorCode(r.Err)}
		for _, d := range r.Deliveries {
			out.Deliveries = append(out.Deliveries, &pb.LeasedMessage{
				Queue: d.Queue, DeliveryId: d.DeliveryID, Message: d.Message, Body: d.Body, LeaseExpiresUnixNano: d.LeaseExpires,
			})
		}
		return out
	case storage.SettleResult:
		out := &pb.OpResult{Error: errorCode(r.Err)}
		for _, it := range r.Items {
			out.Items = append(out.Items, &pb.SettleItemResult{DeliveryId: it.DeliveryID, Error: errorCode(it.Err), LeaseExpiresUnixNano: it.LeaseExpires})
		}
		return out
	case storage.Result:
		return &pb.OpResult{Error: errorCode(r.Err), Created: r.Created, Count: r.Count}
	}
	return &pb.OpResult{Error: "unavailable"}
}

// decodeResult turns a wire result back into the storage result type the
// op produces, so callers cannot tell a forwarded op from a local one.
func decodeResult(op *pb.Op, r *pb.OpResult) any {
	err := codeError(r.Error)
	switch op.Kind.(type) {
	case *pb.Op_Enqueue:
		return storage.EnqueueResult{MessageID: r.MessageId, Duplicate: r.Duplicate, Err: err}
	case *pb.Op_Lease:
		out := storage.LeaseResult{Err: err}
		for _, d := range r.Deliveries {
			out.Deliveries = append(out.Deliveries, storage.Delivery{
				Queue: d.Queue, DeliveryID: d.DeliveryId, Message: d.Message, Body: d.Body, LeaseExpires: d.LeaseExpiresUnixNano,
			})
		}
		return out
	case *pb.Op_Settle:
		out := storage.SettleResult{Err: err}
		for _, it := range r.Items {
			out.Items = append(out.Items, storage.SettleItemResult{DeliveryID: it.DeliveryId, Err: codeError(it.Error), LeaseExpires: it.LeaseExpiresUnixNano})
		}
		return out
	}
	return storage.Result{Created: r.Created, Count: r.Count, Err: err}
}
