package client

import (
	"context"
	"time"

	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"
)

// grpcConnectParams reconnect quickly: a node that went away is usually
// back, or replaced by another target, within seconds.
var grpcConnectParams = grpc.ConnectParams{
	Backoff:           grpcbackoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 3 * time.Second},
	MinConnectTimeout: 5 * time.Second,
}

func (c *Client) grpcPublish(ctx context.Context, queue string, msgs []Message) ([]string, error) {
	req := &hookqv1.PublishRequest{Queue: queue, Messages: make([]*hookqv1.Message, len(msgs))}
	for i, m := range msgs {
		req.Messages[i] = &hookqv1.Message{Body: m.Body, ContentType: m.ContentType, Headers: m.Headers, EventId: m.EventID}
	}
	resp, err := c.publisher.Publish(ctx, req)
	if err != nil {
		return nil, fromGRPC("publish", err)
	}
	return resp.GetMessageIds(), nil
}

func (c *Client) grpcLease(ctx context.Context, queue string, opts LeaseOptions) ([]Delivery, error) {
	req := &hookqv1.LeaseRequest{Queue: queue, Wait: durPB(opts.Wait), Visibility: durPB(opts.Visibility)}
	if opts.Max > 0 {
		req.Max = uint32(min(opts.Max, 1<<20)) // #nosec G115 -- bounded above
	}
	resp, err := c.consumer.Lease(ctx, req)
	if err != nil {
		return nil, fromGRPC("lease", err)
	}
	out := make([]Delivery, len(resp.GetDeliveries()))
	for i, d := range resp.GetDeliveries() {
		out[i] = deliveryOfPB(d)
	}
	return out, nil
}

func (c *Client) grpcSettle(ctx context.Context, queue string, s Settlement) ([]SettleResult, error) {
	resp, err := c.consumer.Settle(ctx, settlePB(queue, s))
	if err != nil {
		return nil, fromGRPC("settle", err)
	}
	out := make([]SettleResult, len(resp.GetResults()))
	for i, r := range resp.GetResults() {
		out[i] = SettleResult{DeliveryID: r.GetDeliveryId(), Status: settleStatusOfPB(r.GetStatus())}
	}
	return out, nil
}

// grpcSettleOne settles one delivery through Settle and turns its item
// status into the error the single-delivery REST call would answer.
func (c *Client) grpcSettleOne(ctx context.Context, op, queue string, s Settlement) error {
	rs, err := c.consumer.Settle(ctx, settlePB(queue, s))
	if err != nil {
		return fromGRPC(op, err)
	}
	if len(rs.GetResults()) != 1 {
		e := &Error{Op: op, Code: CodeInternal, Message: "settle answered no result"}
		e.fill()
		return e
	}
	r := rs.GetResults()[0]
	return SettleResult{DeliveryID: r.GetDeliveryId(), Status: settleStatusOfPB(r.GetStatus())}.err(op)
}
