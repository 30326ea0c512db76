package broker

import (
	"errors"

	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/raftfsm"
	"github.com/hookq/hookq/storage"
)

// errorCodes names the errors that cross the node-to-node wire.
var errorCodes = []struct {
	err  error
	code string
}{
	{storage.ErrQueueNotFound, "queue_not_found"},
	{storage.ErrSourceNotFound, "source_not_found"},
	{storage.ErrTokenNotFound, "token_not_found"},
	{storage.ErrTokenExists, "token_exists"},
	{storage.ErrNodeNotFound, "node_not_found"},
	{storage.ErrMessageNotFound, "message_not_found"},
	{storage.ErrDeliveryNotFound, "delivery_not_found"},
	{storage.ErrLeaseExpired, "lease_expired"},
	{storage.ErrQueueFull, "queue_full"},
	{storage.ErrNotDeadLetter, "not_dead_letter"},
	{storage.ErrEntryFull, "entry_full"},
	{storage.ErrSelectionTooLarge, "selection_too_large"},
	{storage.ErrDeadLetterCycle, "dead_letter_cycle"},
	{ErrNotLeader, "not_leader"},
	{ErrBadRequest, "bad_request"},
	{storage.ErrInvalidOp, "bad_request"},
	{raftfsm.ErrUnknownOp, "bad_request"},
	{raftfsm.ErrUndecodable, "bad_request"},
	{ErrClosed, "closed"},
}

func errorCode(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return "unavailable"
}

func codeError(code string) error {
	if code == "" {
		return nil
	}
	for _, e := range errorCodes {
		if e.code == code {
			return e.err
		}
	}
	return ErrUnavailable
}

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
