package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
)

// admPages follows next from query until it is empty, returning each page's
// ids.
func (e *env) admPages(q, query string) [][]string {
	e.t.Helper()
	var pages [][]string
	after := ""
	for i := 0; ; i++ {
		if i > 100 {
			e.t.Fatal("pagination does not end")
		}
		path := "/v1/queues/" + q + "/messages?" + query
		if after != "" {
			path += "&after=" + after
		}
		var p admPage
		e.admCall("GET", path, adminToken, nil, http.StatusOK, &p)
		var ids []string
		for _, m := range p.Messages {
			ids = append(ids, m.MessageID)
		}
		pages = append(pages, ids)
		if p.Next == "" {
			return pages
		}
		if len(ids) == 0 {
			e.t.Fatalf("empty page with next %q", p.Next)
		}
		after = p.Next
	}
}

func TestListMessagesPaginatesNewestFirst(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.admEnqueue("orders", `{}`))
	}
	want := [][]string{{ids[4], ids[3]}, {ids[2], ids[1]}, {ids[0]}}
	if got := e.admPages("orders", "limit=2"); !reflect.DeepEqual(got, want) {
		t.Fatalf("pages of 2 = %v, want %v", got, want)
	}
	// next is empty only when nothing follows: a full last page ends too.
	if got := e.admPages("orders", "limit=5"); !reflect.DeepEqual(got, [][]string{{ids[4], ids[3], ids[2], ids[1], ids[0]}}) {
		t.Fatalf("page of 5 = %v", got)
	}
	if got := e.admPages("orders", "limit=4"); len(got) != 2 || len(got[0]) != 4 || !reflect.DeepEqual(got[1], []string{ids[0]}) {
		t.Fatalf("pages of 4 = %v", got)
	}

	// Listing elements are the record without payload and deliveries, keys
	// that do not apply present with null.
	_, raw := e.do("GET", "/v1/queues/orders/messages?limit=1", adminToken, nil)
	var page struct {
		Messages []map[string]json.RawMessage `json:"messages"`
		Next     *string                      `json:"next"`
	}
	if err := json.Unmarshal(raw, &page); err != nil || len(page.Messages) != 1 || page.Next == nil {
		t.Fatalf("page %s: %v", raw, err)
	}
	var keys []string
	for k := range page.Messages[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	wantKeys := []string{"attempts", "contentType", "deadLetter", "encoding", "eventId", "headers", "messageId", "queue", "receivedAt", "replayOf", "source", "state"}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Fatalf("element keys %v, want %v", keys, wantKeys)
	}
	for _, k := range []string{"eventId", "replayOf", "deadLetter"} {
		if string(page.Messages[0][k]) != "null" {
			t.Fatalf("%s = %s, want null", k, page.Messages[0][k])
		}
	}
}

func TestListMessagesDefaultLimitIs100(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	errs := make(chan error, 101)
	for i := 0; i < 101; i++ {
		go func() {
			_, err := e.b.Enqueue(context.Background(), broker.EnqueueRequest{Source: "src", Queues: []string{"orders"}, Body: []byte("x")})
			errs <- err
		}()
	}
	for i := 0; i < 101; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var p admPage
	e.admCall("GET", "/v1/queues/orders/messages", adminToken, nil, http.StatusOK, &p)
	if len(p.Messages) != 100 || p.Next == "" {
		t.Fatalf("default page: %d messages, next %q", len(p.Messages), p.Next)
	}
	e.admCall("GET", "/v1/queues/orders/messages?after="+p.Next, adminToken, nil, http.StatusOK, &p)
	if len(p.Messages) != 1 || p.Next != "" {
		t.Fatalf("second page: %d messages, next %q", len(p.Messages), p.Next)
	}
	e.admCall("GET", "/v1/queues/orders/messages?limit=1000", adminToken, nil, http.StatusOK, &p)
	if len(p.Messages) != 101 || p.Next != "" {
		t.Fatalf("limit 1000: %d messages, next %q", len(p.Messages), p.Next)
	}
}

func TestListMessagesFiltersByState(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	e.queue("other")
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.admEnqueue("orders", `{}`))
	}
	ds := e.admLease("orders", 3, time.Hour) // ids[0..2]
	e.admSettle("orders", admAck(ds[0].DeliveryID))
	e.admSettle("orders", admNack(ds[1].DeliveryID, time.Hour))
	want := map[string][]string{
		"ready": {ids[4], ids[3]}, "inflight": {ids[2]}, "delayed": {ids[1]}, "acked": {ids[0]},
	}
	for state, wantIDs := range want {
		var p admPage
		e.admCall("GET", "/v1/queues/orders/messages?state="+state, adminToken, nil, http.StatusOK, &p)
		var got []string
		for _, m := range p.Messages {
			got = append(got, m.MessageID)
			if m.State != state {
				t.Fatalf("state=%s listed a %s message", state, m.State)
			}
		}
		if !reflect.DeepEqual(got, wantIDs) || p.Next != "" {
			t.Fatalf("state=%s: %v next %q, want %v", state, got, p.Next, wantIDs)
		}
	}
	if got := e.admPages("orders", "state=ready&limit=1"); !reflect.DeepEqual(got, [][]string{{ids[4]}, {ids[3]}}) {
		t.Fatalf("ready pages of 1 = %v", got)
	}
	var all admPage
	e.admCall("GET", "/v1/queues/orders/messages", adminToken, nil, http.StatusOK, &all)
	states := map[string]string{}
	for _, m := range all.Messages {
		states[m.MessageID] = m.State
	}
	wantStates := map[string]string{ids[0]: "acked", ids[1]: "delayed", ids[2]: "inflight", ids[3]: "ready", ids[4]: "ready"}
	if !reflect.DeepEqual(states, wantStates) {
		t.Fatalf("states %v, want %v", states, wantStates)
	}

	for _, query := range []string{"state=gone", "state=READY", "limit=0", "limit=1001", "limit=ten", "after=zzz", "after=" + ids[0] + "0"} {
		resp, body := e.do("GET", "/v1/queues/orders/messages?"+query, adminToken, nil)
		expectError(t, resp, body, http.StatusBadRequest, "bad_request")
	}
	resp, body := e.do("GET", "/v1/queues/ghost/messages", adminToken, nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")

	reader := e.admToken("reader", "read:orders")
	consumer := e.admToken("consumer", "consume:*")
	e.admCall("GET", "/v1/queues/orders/messages", reader, nil, http.StatusOK, nil)
	resp, body = e.do("GET", "/v1/queues/other/messages", reader, nil)
	expectError(t, resp, body, http.StatusForbidden, "forbidden")
	resp, body = e.do("GET", "/v1/queues/orders/messages", consumer, nil)
	expectError(t, resp, body, http.StatusForbidden, "forbidden")
	resp, body = e.do("GET", "/v1/queues/orders/messages", "", nil)
	expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	resp, body = e.do("GET", "/v1/queues/orders/messages", "bogus", nil)
	expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
}

func (e *env) admMessage(q, id string) admMessage {
	e.t.Helper()
	var m admMessage
	e.admCall("GET", "/v1/queues/"+q+"/messages/"+id, adminToken, nil, http.StatusOK, &m)
	return m
}

func TestMessageDetailShowsDeliveryHistory(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	id := e.admEnqueue("orders", `{"a":1}`)
	m := e.admMessage("orders", id)
	if m.MessageID != id || m.Queue != "orders" || m.State != "ready" || m.Attempts != 0 || m.Payload != `{"a":1}` ||
		m.Encoding != "utf8" || *m.ContentType != "application/json" || *m.Source != "src" || m.Headers["X-Test"] != "yes" ||
		m.EventID != nil || m.ReplayOf != nil || m.DeadLetter != nil || m.Deliveries == nil || len(m.Deliveries) != 0 || !admIsUTC(m.ReceivedAt) {
		t.Fatalf("fresh message = %+v", m)
	}

	d1 := e.admLease("orders", 1, time.Hour)[0]
	m = e.admMessage("orders", id)
	if m.State != "inflight" || m.Attempts != 1 || len(m.Deliveries) != 1 {
		t.Fatalf("leased message = %+v", m)
	}
	if d := m.Deliveries[0]; d.DeliveryID != d1.DeliveryID || d.Attempt != 1 || !admIsUTC(d.LeasedAt) || d.SettledAt != nil || d.Outcome != nil || d.Reason != nil {
		t.Fatalf("live delivery = %+v", d)
	}

	nk := admNack(d1.DeliveryID, 0)
	nk.Reason = "downstream 503"
	e.admSettle("orders", nk)
	d2 := e.admLease("orders", 1, time.Hour)[0]
	e.admSettle("orders", admAck(d2.DeliveryID))
	m = e.admMessage("orders", id)
	if m.State != "acked" || m.Attempts != 2 || len(m.Deliveries) != 2 {
		t.Fatalf("acked message = %+v", m)
	}
	first, second := m.Deliveries[0], m.Deliveries[1]
	if first.DeliveryID != d1.DeliveryID || *first.Outcome != "nack" || *first.Reason != "downstream 503" || first.SettledAt == nil || !admIsUTC(*first.SettledAt) {
		t.Fatalf("first delivery = %+v", first)
	}
	if second.DeliveryID != d2.DeliveryID || second.Attempt != 2 || *second.Outcome != "ack" || second.Reason != nil || second.SettledAt == nil {
		t.Fatalf("second delivery = %+v", second)
	}

	bin := e.admEnqueue("orders", "\xff\xfe\x00")
	if m := e.admMessage("orders", bin); m.Encoding != "base64" || m.Payload != "//4A" {
		t.Fatalf("binary payload %q encoding %q", m.Payload, m.Encoding)
	}

	for _, path := range []string{"/v1/queues/orders/messages/nothex", "/v1/queues/orders/messages/00000000000000ff", "/v1/queues/ghost/messages/" + id} {
		resp, body := e.do("GET", path, adminToken, nil)
		expectError(t, resp, body, http.StatusNotFound, "not_found")
	}
	e.admCall("GET", "/v1/queues/orders/messages/"+id, e.admToken("r", "read:*"), nil, http.StatusOK, nil)
	resp, body := e.do("GET", "/v1/queues/orders/messages/"+id, e.admToken("c", "consume:orders", "read:other"), nil)
	expectError(t, resp, body, http.StatusForbidden, "forbidden")
	resp, body = e.do("GET", "/v1/queues/orders/messages/"+id, "", nil)
	expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
}

func TestMessageDetailShowsALapsedLeaseAsExpired(t *testing.T) {
	e := newEnv(t)
	e.queue("orders")
	id := e.admEnqueue("orders", `{}`)
	d := e.admLease("orders", 1, 50*time.Millisecond)[0]
	var m admMessage
	admEventually(t, 5*time.Second, "the lease to lapse", func() bool {
		m = e.admMessage("orders", id)
		return m.State == "ready"
	})
	if len(m.Deliveries) != 1 {
		t.Fatalf("deliveries %+v", m.Deliveries)
	}
	got := m.Deliveries[0]
	end := d.LeaseExpires.UTC().Format(time.RFC3339Nano)
	if got.Outcome == nil || *got.Outcome != "expired" || got.SettledAt == nil || *got.SettledAt != end {
		t.Fatalf("lapsed delivery = %+v, want expired at %s", got, end)
	}
}
