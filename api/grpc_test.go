package api_test

import (
	"testing"
	"time"

	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
)

func TestGRPCPublishLeaseSettle(t *testing.T) {
	e := newGRPCEnv(t)
	e.Queue(t, "orders", nil)
	ids := e.publish("orders", "one", "two")
	ds := e.lease("orders", 10, 2*time.Second, 0)
	if len(ds) != 2 {
		t.Fatalf("leased %d, want 2", len(ds))
	}
	got := map[string]string{}
	for _, d := range ds {
		got[d.Meta.MessageId] = string(d.Payload)
		if d.Meta.Queue != "orders" || d.Meta.Source != "publish" || d.Meta.Attempt != 1 || d.Meta.LeaseExpiresAt == nil || d.Meta.ReceivedAt == nil {
			t.Fatalf("meta = %v", d.Meta)
		}
	}
	if got[ids[0]] != "one" || got[ids[1]] != "two" {
		t.Fatalf("leased %v for ids %v", got, ids)
	}
	resp, err := e.cons.Settle(asT(t, e.AdminToken, 5*time.Second), &hookqv1.SettleRequest{
		Queue: "orders", Acks: []string{ds[0].Meta.DeliveryId, ds[0].Meta.DeliveryId, "nope"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []hookqv1.SettleStatus{hookqv1.SettleStatus_SETTLE_OK, hookqv1.SettleStatus_SETTLE_LEASE_EXPIRED, hookqv1.SettleStatus_SETTLE_NOT_FOUND}
	for i, r := range resp.Results {
		if r.Status != want[i] {
			t.Errorf("result %d = %v, want %v", i, r.Status, want[i])
		}
	}
}
