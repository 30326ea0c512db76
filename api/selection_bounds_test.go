package api_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
)

// A replay or redrive selecting more than one operation may copy answers
// 400 telling how to narrow it, and changes nothing; a narrower one works.
func TestReplayAndRedriveOverSelectionBounds(t *testing.T) {
	defer broker.SetSelectionLimitsForTesting(2, 1<<20)()
	e := newEnv(t)
	e.queue("orders")
	ids := []string{e.admEnqueue("orders", `{"n":0}`), e.admEnqueue("orders", `{"n":1}`), e.admEnqueue("orders", `{"n":2}`)}
	for _, d := range e.admLease("orders", 3, time.Hour) {
		e.admSettle("orders", admReject(d.DeliveryID))
	}
	origin, dlq := e.admGetQueue("orders"), e.admGetQueue("orders.dlq")
	for _, c := range []struct{ path, body, narrow string }{
		{"/v1/queues/orders.dlq/replay", `{}`, "since/until"},
		{"/v1/queues/orders.dlq/replay", `{"messageIds":["` + strings.Join(ids, `","`) + `"]}`, "since/until"},
		{"/v1/queues/orders.dlq/redrive", `{}`, "messageIds"},
	} {
		resp, body := e.do("POST", c.path, adminToken, c.body)
		expectError(t, resp, body, http.StatusBadRequest, "bad_request")
		if s := string(body); !strings.Contains(s, "narrow") || !strings.Contains(s, c.narrow) || !strings.Contains(s, "at most 2 messages") {
			t.Errorf("POST %s %s: message %s does not tell how to narrow it", c.path, c.body, s)
		}
		if a, b := e.admGetQueue("orders"), e.admGetQueue("orders.dlq"); !reflect.DeepEqual(a, origin) || !reflect.DeepEqual(b, dlq) {
			t.Fatalf("refused %s changed state: %+v %+v", c.path, a.Stats, b.Stats)
		}
	}
	if n := e.admCount("/v1/queues/orders.dlq/replay", "replayed", map[string]any{"messageIds": ids[:2]}); n != 2 {
		t.Fatalf("narrowed replay: %d, want 2", n)
	}
	if n := e.admCount("/v1/queues/orders.dlq/redrive", "redriven", map[string]any{"messageIds": ids[1:]}); n != 2 {
		t.Fatalf("narrowed redrive: %d, want 2", n)
	}
}
