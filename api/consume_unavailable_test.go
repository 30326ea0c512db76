package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
)

// noQuorum is a real broker whose leases and settlements fail as on a
// node that lost its leader.
type noQuorum struct{ *broker.Broker }

func (noQuorum) Lease(context.Context, string, broker.LeaseOptions) ([]broker.Delivery, error) {
	return nil, fmt.Errorf("lease: %w", broker.ErrNotLeader)
}

func (noQuorum) Settle(context.Context, string, []broker.SettleItem) ([]broker.SettleItemResult, error) {
	return nil, fmt.Errorf("settle: %w", broker.ErrUnavailable)
}

func TestConsumerEndpointsAnswer503WithRetryAfterWithoutQuorum(t *testing.T) {
	e := newRaftEnv(t)
	e.queue("q")
	e.consPut("q", "m", "text/plain")
	_, m := e.consMustNext("q", "")
	srv := httptest.NewServer(api.New(api.Config{AdminToken: adminToken}, noQuorum{e.b}))
	defer srv.Close()

	for _, tc := range []struct{ name, method, path, body string }{
		{"next", "GET", "/v1/queues/q/next?wait=1s", ""},
		{"ack", "POST", consPath("q", m.DeliveryID, "ack"), ""},
		{"nack", "POST", consPath("q", m.DeliveryID, "nack"), `{"delay":"1s"}`},
		{"reject", "POST", consPath("q", m.DeliveryID, "reject"), ""},
		{"extend", "POST", consPath("q", m.DeliveryID, "extend"), `{"visibility":"1m"}`},
		{"lease", "POST", "/v1/queues/q/lease", `{"max":5}`},
		{"settle", "POST", "/v1/queues/q/settle", `{"ack":["` + m.DeliveryID + `"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.consStats("q")
			resp, body := e.do(tc.method, srv.URL+tc.path, adminToken, tc.body)
			expectError(t, resp, body, http.StatusServiceUnavailable, "unavailable")
			e.consUnchanged("q", before)
		})
	}

	// A stream that cannot lease says why in an error event, then ends.
	req, _ := http.NewRequest("GET", srv.URL+"/v1/queues/q/stream", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan string, 1)
	go func() {
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				done <- sb.String()
				return
			}
		}
	}()
	select {
	case got := <-done:
		if !strings.HasPrefix(got, "event: error\ndata: {\"error\":{\"code\":\"unavailable\"") || !strings.HasSuffix(got, "\n\n") {
			t.Fatalf("stream body %q, want one error event", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream without quorum did not end")
	}
}

func TestConsumerJSONBodiesOver1MiBAre413(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "m", "text/plain")
	big := `{"ack":["` + strings.Repeat("a", 1<<20) + `"]}`
	for _, path := range []string{"/v1/queues/q/lease", "/v1/queues/q/settle"} {
		before := e.consStats("q")
		resp, body := e.do("POST", path, adminToken, big)
		expectError(t, resp, body, http.StatusRequestEntityTooLarge, "payload_too_large")
		e.consUnchanged("q", before)
	}
}
