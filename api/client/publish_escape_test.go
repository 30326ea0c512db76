package client_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/api/client"
)

// TestRESTPublishBodyThatEscapesBadly: a body that is valid UTF-8 but
// made of characters JSON escapes six bytes long (NUL, '<') publishes over
// REST as it does over gRPC, as long as it is within the 16 MiB body
// bound, and leases back byte for byte.
func TestRESTPublishBodyThatEscapesBadly(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "esc", nil)
	c := newClient(t, n, client.TransportREST, "")
	body := append(bytes.Repeat([]byte{0}, 3<<20), bytes.Repeat([]byte("<"), 3<<20)...)
	ids, err := c.Publish(ctxT(t), "esc", client.Message{Body: body, ContentType: "application/octet-stream"})
	if err != nil {
		t.Fatalf("publish of a %d-byte body: %v", len(body), err)
	}
	ds, err := c.Lease(ctxT(t), "esc", client.LeaseOptions{Wait: 5 * time.Second})
	if err != nil || len(ds) != 1 {
		t.Fatalf("lease: %d, %v", len(ds), err)
	}
	if ds[0].Meta.MessageID != ids[0] || !bytes.Equal(ds[0].Payload, body) {
		t.Fatalf("leased %s with %d bytes, want %s with the %d bytes published", ds[0].Meta.MessageID, len(ds[0].Payload), ids[0], len(body))
	}
}
