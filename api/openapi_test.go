package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker/brokertest"
)

// openAPIPath is the document the tests hold the server to.
const openAPIPath = "../docs/openapi.yaml"

// loadOpenAPI loads and validates docs/openapi.yaml.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(openAPIPath)
	if err != nil {
		t.Fatalf("load %s: %v", openAPIPath, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", openAPIPath, err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("%s declares openapi %q, want 3.1", openAPIPath, doc.OpenAPI)
	}
	return doc
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// shape writes a path with every parameter as {}: the mux and the
// document may name a parameter differently.
func shape(path string) string { return pathParam.ReplaceAllString(path, "{}") }

// operations is the document's (METHOD, path) pairs.
func operations(doc *openapi3.T) map[string]*openapi3.Operation {
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = op
		}
	}
	return ops
}

func TestOpenAPIDocumentsEveryRouteAndEveryDocumentedPathIsRouted(t *testing.T) {
	doc := loadOpenAPI(t)
	srv := api.New(api.Config{HTTPAddr: "127.0.0.1:8080", AdminToken: adminToken}, brokertest.NewFake(t))
	ops := operations(doc)
	byShape := map[string][]string{} // shape of "METHOD path" → documented keys
	pathsByShape := map[string]string{}
	for key := range ops {
		method, path, _ := strings.Cut(key, " ")
		byShape[method+" "+shape(path)] = append(byShape[method+" "+shape(path)], key)
		pathsByShape[shape(path)] = path
	}

	// Every registered route is documented.
	routes := srv.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes recorded: %v", len(routes), routes)
	}
	for _, pattern := range routes {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			method, path = "", pattern
		}
		switch {
		case pattern == "/":
			// The catch-all that answers 404 not_found to what matches no
			// route; the document's description says so.
			continue
		case method == "":
			// Every method not routed otherwise: the document must show
			// the path answering 405.
			p, found := pathsByShape[shape(path)]
			if !found {
				t.Errorf("route %q: path not in %s", pattern, openAPIPath)
				continue
			}
			has405 := false
			for _, op := range doc.Paths.Value(p).Operations() {
				if op.Responses.Status(http.StatusMethodNotAllowed) != nil {
					has405 = true
				}
			}
			if !has405 {
				t.Errorf("route %q answers other methods 405; %s documents no 405 on %s", pattern, openAPIPath, p)
			}
		default:
			if len(byShape[method+" "+shape(path)]) == 0 {
				t.Errorf("route %q is not in %s", pattern, openAPIPath)
			}
		}
	}

	// Every documented operation reaches a route other than the catch-all.
	for key := range ops {
		method, path, _ := strings.Cut(key, " ")
		url := "http://127.0.0.1:8080" + pathParam.ReplaceAllString(path, "x1")
		req := httptest.NewRequest(method, url, nil)
		got := api.RouteOf(srv, req)
		if got == "/" || got == "" {
			t.Errorf("%s is documented but not routed (the mux answers it with %q)", key, got)
			continue
		}
		if !slices.Contains(routes, got) {
			t.Errorf("%s reaches %q, which Routes does not list", key, got)
		}
	}
}

// oaEnv is a real node behind the HTTP API whose answers are validated
// against docs/openapi.yaml.
type oaEnv struct {
	*env
	doc    *openapi3.T
	router routers.Router
}

func newOAEnv(t *testing.T) *oaEnv {
	t.Helper()
	doc := loadOpenAPI(t)
	e := newRaftEnv(t)
	doc.Servers = openapi3.Servers{{URL: e.srv.URL}}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &oaEnv{env: e, doc: doc, router: r}
}

// call sends a request and validates the response (status, headers,
// body) against the document; the request too when it is meant to be
// valid. It returns the response and its body.
func (o *oaEnv) call(method, path, token string, body any, wantStatus int, hdr ...string) (*http.Response, []byte) {
	o.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			o.t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, o.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		o.t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil && !strings.HasPrefix(path, "/hooks/") {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", method, path, err)
	}
	out, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		o.t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		o.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, wantStatus, out)
	}

	// Validate against the document with a fresh copy of the request.
	vreq, _ := http.NewRequest(method, o.srv.URL+path, bytes.NewReader(raw))
	vreq.Header = req.Header.Clone()
	route, params, err := o.router.FindRoute(vreq)
	if err != nil {
		o.t.Fatalf("%s %s: not in the document: %v", method, path, err)
	}
	reqIn := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	if wantStatus < 300 && !strings.HasPrefix(path, "/hooks/") {
		if err := openapi3filter.ValidateRequest(context.Background(), reqIn); err != nil {
			o.t.Fatalf("%s %s: the request does not match the document: %v", method, path, err)
		}
	}
	ct := resp.Header.Get("Content-Type")
	jsonBody := strings.HasPrefix(ct, "application/json")
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqIn,
		Status:                 resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(out)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: !jsonBody && len(out) > 0},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		o.t.Fatalf("%s %s → %d %s: the response does not match the document: %v", method, path, resp.StatusCode, out, err)
	}
	return resp, out
}

// schema validates v (decoded JSON) against a named schema.
func (o *oaEnv) schema(name string, raw []byte) {
	o.t.Helper()
	ref := o.doc.Components.Schemas[name]
	if ref == nil {
		o.t.Fatalf("no schema %s", name)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		o.t.Fatalf("%s: %v: %s", name, err, raw)
	}
	if err := ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		o.t.Fatalf("%s does not match schema %s: %v", raw, name, err)
	}
}

func TestResponsesMatchTheOpenAPIDocument(t *testing.T) {
	o := newOAEnv(t)
	const tok = adminToken

	// Health.
	o.call("GET", "/healthz", "", nil, 200)
	o.call("GET", "/readyz", "", nil, 200)
	o.call("GET", "/metrics", "", nil, 200)

	// Queues.
	o.call("PUT", "/v1/queues/orders", tok, map[string]any{"visibilityTimeout": "1m30s", "backoff": []string{"1s", "2m"}, "maxAttempts": 2}, 201)
	o.call("PUT", "/v1/queues/orders", tok, map[string]any{"maxAttempts": 2}, 200)
	o.call("GET", "/v1/queues/orders", tok, nil, 200)
	o.call("GET", "/v1/queues", tok, nil, 200)
	o.call("PUT", "/v1/queues/scratch", tok, nil, 201)
	o.call("DELETE", "/v1/queues/scratch", tok, nil, 204)

	// Sources.
	o.call("PUT", "/v1/sources/shop", tok, map[string]any{
		"queues": []string{"orders"}, "verify": map[string]any{"type": "token", "secrets": []string{"s3cret"}},
		"dedup": map[string]any{"key": "header:X-Id", "window": "1h"},
	}, 201)
	o.call("PUT", "/v1/sources/hmac", tok, map[string]any{
		"queues": []string{"orders"},
		"verify": map[string]any{"type": "hmac", "secrets": []string{"k"}, "header": "X-Sig", "prefix": "sha256="},
	}, 201)
	o.call("GET", "/v1/sources/shop", tok, nil, 200)
	o.call("GET", "/v1/sources", tok, nil, 200)
	o.call("GET", "/v1/verify-types", tok, nil, 200)
	o.call("DELETE", "/v1/sources/hmac", tok, nil, 204)

	// Ingest: accepted, duplicate, refused, unknown, wrong method.
	hook := func(body, id string, status int) string {
		_, out := o.call("POST", "/hooks/shop", "", body, status, "X-Webhook-Token", "s3cret", "X-Id", id, "Content-Type", "application/json")
		var r struct {
			MessageID string `json:"messageId"`
		}
		_ = json.Unmarshal(out, &r)
		return r.MessageID
	}
	first := hook(`{"n":1}`, "a", 202)
	hook(`{"n":1}`, "a", 200)
	for _, b := range []string{`{"n":2}`, `{"n":3}`, `{"n":4}`, `{"n":5}`, `{"n":6}`} {
		hook(b, b, 202)
	}
	o.call("POST", "/hooks/shop", "", `{}`, 401, "X-Webhook-Token", "wrong")
	o.call("POST", "/hooks/nope", "", `{}`, 404)
	o.call("GET", "/hooks/shop", "", nil, 405)
	o.call("POST", "/hooks/shop", "", strings.Repeat("x", 2<<20), 413, "X-Webhook-Token", "s3cret")

	// The source's refusals and its test webhook.
	o.call("GET", "/v1/sources/shop/rejections", tok, nil, 200)
	o.call("GET", "/v1/sources/missing/rejections", tok, nil, 404)
	o.call("POST", "/v1/sources/shop/test", tok, nil, 202)
	o.call("POST", "/v1/sources/missing/test", tok, nil, 404)
	o.call("POST", "/v1/sources/shop/test", "", nil, 401)

	// next, with its meta, then each delivery action.
	resp, _ := o.call("GET", "/v1/queues/orders/next", tok, nil, 200)
	o.schema("Meta", []byte(resp.Header.Get("X-Hookq-Meta")))
	var m struct {
		DeliveryID string `json:"deliveryId"`
	}
	_ = json.Unmarshal([]byte(resp.Header.Get("X-Hookq-Meta")), &m)
	o.call("POST", "/v1/queues/orders/deliveries/"+m.DeliveryID+"/extend", tok, map[string]any{"visibility": "1m"}, 200)
	o.call("POST", "/v1/queues/orders/deliveries/"+m.DeliveryID+"/ack", tok, nil, 204)
	o.call("POST", "/v1/queues/orders/deliveries/"+m.DeliveryID+"/ack", tok, nil, 409)
	o.call("POST", "/v1/queues/orders/deliveries/"+m.DeliveryID+"/bogus", tok, nil, 404)
	o.call("HEAD", "/v1/queues/orders/next", tok, nil, 405)

	resp, _ = o.call("GET", "/v1/queues/orders/next?autoAck=true", tok, nil, 200)
	o.schema("Meta", []byte(resp.Header.Get("X-Hookq-Meta")))
	o.streamEnvelope("streamed")

	// Batch lease and settle; nack and reject one by one.
	_, out := o.call("POST", "/v1/queues/orders/lease", tok, map[string]any{"max": 3, "visibility": "30s"}, 200)
	var lease struct {
		Messages []struct {
			Meta struct {
				DeliveryID string `json:"deliveryId"`
			} `json:"meta"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(out, &lease); err != nil || len(lease.Messages) != 3 {
		t.Fatalf("lease: %s (%v)", out, err)
	}
	d := func(i int) string { return lease.Messages[i].Meta.DeliveryID }
	o.call("POST", "/v1/queues/orders/deliveries/"+d(0)+"/nack", tok, map[string]any{"delay": "0s", "reason": "later"}, 204)
	o.call("POST", "/v1/queues/orders/deliveries/"+d(1)+"/reject", tok, map[string]any{"reason": "bad"}, 204)
	o.call("POST", "/v1/queues/orders/settle", tok, map[string]any{"ack": []string{d(2), d(1)}, "reject": []map[string]any{{"deliveryId": "nope"}}}, 200)
	o.call("POST", "/v1/queues/orders/lease", tok, map[string]any{"max": 1, "wait": "0s"}, 200)
	o.call("GET", "/v1/queues/empty-q-none/next", tok, nil, 404)

	// Messages: listing, filtered listing, a record with history.
	o.call("GET", "/v1/queues/orders/messages", tok, nil, 200)
	o.call("GET", "/v1/queues/orders/messages?state=acked&limit=1", tok, nil, 200)
	o.call("GET", "/v1/queues/orders/messages/"+first, tok, nil, 200)
	o.call("GET", "/v1/queues/orders.dlq/messages", tok, nil, 200)
	o.call("POST", "/v1/queues/orders/publish", tok, map[string]any{"messages": []map[string]any{
		{"payload": `{"p":1}`, "contentType": "application/json", "eventId": "p-1"}, {"payload": "/wA=", "encoding": "base64"},
	}}, 200)
	o.call("GET", "/v1/queues/orders/messages/0000000000000000", tok, nil, 404)
	o.call("POST", "/v1/queues/orders/publish", tok, map[string]any{"messages": []map[string]any{{"payload": "!!", "encoding": "base64"}}}, 400)
	o.call("POST", "/v1/queues/orders/publish", tok, `{"messages":[],"extra":1}`, 400)
	o.call("POST", "/v1/queues/missing/publish", tok, map[string]any{"messages": []map[string]any{{"payload": "x"}}}, 404)

	// Replay, redrive, purge.
	o.call("POST", "/v1/queues/orders/replay", tok, map[string]any{"messageIds": []string{first}}, 200)
	o.call("POST", "/v1/queues/orders/replay", tok, map[string]any{"since": "2000-01-01T00:00:00Z"}, 200)
	o.call("POST", "/v1/queues/orders/replay", tok, map[string]any{"messageIds": []string{first}, "since": "2000-01-01T00:00:00Z"}, 400)
	o.call("POST", "/v1/queues/orders.dlq/redrive", tok, map[string]any{}, 200)
	o.call("POST", "/v1/queues/orders/redrive", tok, nil, 400)
	o.call("POST", "/v1/queues/orders/purge", tok, nil, 200)

	// Tokens.
	_, out = o.call("POST", "/v1/tokens", tok, map[string]any{"name": "reader", "scopes": []string{"read:orders"}}, 201)
	var created struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(out, &created)
	o.call("POST", "/v1/tokens", tok, map[string]any{"name": "reader", "scopes": []string{"admin"}}, 409)
	o.call("GET", "/v1/tokens", tok, nil, 200)
	o.call("GET", "/v1/queues/orders", created.Token, nil, 200)
	o.call("PUT", "/v1/queues/orders", created.Token, nil, 403)
	o.call("DELETE", "/v1/tokens/reader", tok, nil, 204)
	o.call("DELETE", "/v1/tokens/reader", tok, nil, 404)

	// Cluster.
	o.call("GET", "/v1/cluster", tok, nil, 200)
	o.call("POST", "/v1/cluster/transfer-leadership", tok, nil, 503)
	o.call("POST", "/v1/cluster/transfer-leadership", tok, map[string]any{"id": "ghost"}, 404)
	o.call("DELETE", "/v1/cluster/nodes/ghost", tok, nil, 404)
	o.call("POST", "/v1/cluster/join", tok, `{"id":""}`, 400)
	o.call("GET", "/v1/cluster/backup", tok, nil, 200)

	// Errors.
	o.call("GET", "/v1/queues", "", nil, 401)
	o.call("GET", "/v1/queues", "not-a-token", nil, 401)
	o.call("PUT", "/v1/queues/orders", tok, `{"visibilityTimeout":"soon"}`, 400)
	o.call("PUT", "/v1/queues/bad%20name", tok, nil, 400)
	o.call("GET", "/v1/queues/missing", tok, nil, 404)
	o.call("GET", "/v1/sources/missing", tok, nil, 404)
	o.call("DELETE", "/v1/queues/missing", tok, nil, 404)
}

// streamEnvelope creates queue q with one message, opens its SSE stream
// and validates the first message event's data against the Envelope
// schema (a queue of its own: the stream leases whatever it can).
func (o *oaEnv) streamEnvelope(q string) {
	o.t.Helper()
	o.queue(q)
	o.consPut(q, `{"streamed":true}`, "application/json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", o.srv.URL+"/v1/queues/"+q+"/stream?maxInFlight=1", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		o.t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: ") && event == "message":
			o.schema("Envelope", []byte(strings.TrimPrefix(line, "data: ")))
			return
		}
	}
	o.t.Fatalf("stream ended without a message event: %v", sc.Err())
}
