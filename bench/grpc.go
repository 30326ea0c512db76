package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"unicode/utf8"

	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// maxGRPCMessage is the largest message the bench's gRPC client accepts:
// the node's own limit (a delivery of the largest body fits).
const maxGRPCMessage = 64 << 20

// dialGRPC opens the gRPC connection of --mode grpc: TLS (system roots)
// when the node's URL is https, plaintext otherwise.
func dialGRPC(cfg ConsumeConfig) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if u, err := url.Parse(cfg.URL); err == nil && u.Scheme == "https" {
		creds = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	conn, err := grpc.NewClient(cfg.GRPCAddr, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxGRPCMessage)))
	if err != nil {
		return nil, fmt.Errorf("%w: --grpc-addr %q: %v", ErrInvalidConfig, cfg.GRPCAddr, err)
	}
	return conn, nil
}

// authed is ctx with the consumer's bearer token in the call metadata.
func (c *consumer) authed(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.cfg.Token)
}

// grpcWorker keeps one Consume stream open (reconnecting after errors)
// until the consumer stops.
func (c *consumer) grpcWorker(ctx context.Context) {
	for !c.stopped() && ctx.Err() == nil {
		t0 := c.clk.Now()
		if err := c.grpcStream(ctx); err != nil && !c.stopped() && ctx.Err() == nil {
			c.log.Debug("gRPC stream failed", "err", err)
			c.rec.Error(t0, c.clk.Now(), "stream "+errorKind(err))
			c.pause(ctx)
		}
	}
}

// grpcStream reads one Consume stream with MaxInFlight credits and acks
// what it delivers in batches with the Settle RPC (which frees the
// stream's slots at once), as the SSE mode does with POST …/settle.
func (c *consumer) grpcStream(ctx context.Context) error {
	sctx, cancel := context.WithCancel(c.authed(ctx))
	defer cancel()
	st, err := c.grpc.Consume(sctx)
	if err != nil {
		return err
	}
	start := &hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Start{Start: &hookqv1.Start{
		Queue: c.cfg.Queue, Credits: uint32(c.cfg.MaxInFlight), // #nosec G115 -- validate bounds MaxInFlight to 1..1000
	}}}
	if err := st.Send(start); err != nil {
		return err
	}
	// At most MaxInFlight deliveries are unsettled, and a delivery leaves
	// pending before it is settled, so pending never fills.
	pending := make(chan delivery, c.cfg.MaxInFlight+1)
	readErr := make(chan error, 1)
	go func() { readErr <- c.readDeliveries(sctx, st, pending) }()
	return c.settleStream(ctx, cancel, pending, readErr)
}

// readDeliveries receives deliveries from st into pending until the stream
// or ctx ends.
func (c *consumer) readDeliveries(ctx context.Context, st grpc.BidiStreamingClient[hookqv1.ConsumeRequest, hookqv1.Delivery], pending chan<- delivery) error {
	for {
		d, err := st.Recv()
		if err != nil {
			return err
		}
		at := c.clk.Now()
		e := envelope{Payload: string(d.GetPayload()), Encoding: "utf8"}
		if !utf8.Valid(d.GetPayload()) {
			e.Encoding = "base64"
		}
		e.Meta.DeliveryID, e.Meta.Attempt = d.GetMeta().GetDeliveryId(), d.GetMeta().GetAttempt()
		c.received(&e, at)
		select {
		case pending <- delivery{id: e.Meta.DeliveryID, at: at}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// settleGRPC acks ids with the Settle RPC and returns each item's status
// in the words of the REST API ("ok", "lease_expired", "not_found").
func (c *consumer) settleGRPC(ctx context.Context, ids []string) ([]string, error) {
	res, err := c.grpc.Settle(c.authed(ctx), &hookqv1.SettleRequest{Queue: c.cfg.Queue, Acks: ids})
	if err != nil {
		return nil, err
	}
	statuses := make([]string, len(res.GetResults()))
	for i, r := range res.GetResults() {
		switch r.GetStatus() {
		case hookqv1.SettleStatus_SETTLE_OK:
			statuses[i] = "ok"
		case hookqv1.SettleStatus_SETTLE_LEASE_EXPIRED:
			statuses[i] = "lease_expired"
		case hookqv1.SettleStatus_SETTLE_NOT_FOUND:
			statuses[i] = "not_found"
		default:
			statuses[i] = r.GetStatus().String()
		}
	}
	return statuses, nil
}
