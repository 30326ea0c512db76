package api_test

import (
	"testing"
	"time"

	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Requests a started stream refuses end it with InvalidArgument: a second
// Start, a request with no kind, and a settlement hookq would refuse
// (a nack delay over 12h).
func TestGRPCConsumeMidStreamRequests(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "mid", nil)
	e.publish("mid", "a", "b")
	for name, req := range map[string]*hookqv1.ConsumeRequest{
		"second start": {Kind: &hookqv1.ConsumeRequest_Start{Start: &hookqv1.Start{Queue: "mid", Credits: 1}}},
		"no kind":      {},
		"nack delay 13h": {Kind: &hookqv1.ConsumeRequest_Settle{Settle: &hookqv1.SettleRequest{
			Nacks: []*hookqv1.Nack{{DeliveryId: "x", Delay: durationpb.New(13 * time.Hour)}}}}},
	} {
		t.Run(name, func(t *testing.T) {
			c := e.consume(t, e.AdminToken, "mid", 1, time.Second)
			c.recv()
			if err := c.st.Send(req); err != nil {
				t.Fatal(err)
			}
			for {
				// Deliveries may still come (the 1s leases run out); the
				// stream must end with InvalidArgument.
				if _, err := c.st.Recv(); err != nil {
					wantCode(t, err, codes.InvalidArgument)
					return
				}
			}
		})
	}
}
