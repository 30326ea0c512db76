package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/broker"
)

// restPublish posts body to POST /v1/queues/{q}/publish with token and
// returns the status and the decoded JSON answer.
func restPublish(t *testing.T, n *apitest.Node, q, token string, body any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, n.HTTPURL+"/v1/queues/"+q+"/publish", bytes.NewReader(raw))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("answer %d %q: %v", res.StatusCode, out, err)
	}
	return res.StatusCode, m
}

func errorCodeOf(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// The REST twin of Publish: utf8 and base64 payloads, content type,
// headers and event id kept; durable before 200; scope publish:<q>.
func TestRESTPublish(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "events", nil)
	pubTok := n.Token(t, "producer", "publish:events")
	binary := []byte{0xff, 0x00, 0xfe}
	code, out := restPublish(t, n, "events", pubTok, map[string]any{"messages": []map[string]any{
		{"payload": "héllo", "contentType": "text/plain", "headers": map[string]string{"X-A": "1"}, "eventId": "e1"},
		{"payload": base64.StdEncoding.EncodeToString(binary), "encoding": "base64"},
	}})
	if code != http.StatusOK {
		t.Fatalf("publish = %d %v", code, out)
	}
	ids, _ := out["messageIds"].([]any)
	if len(ids) != 2 {
		t.Fatalf("messageIds = %v", out)
	}
	m, body, err := n.Broker.Message("events", ids[0].(string))
	if err != nil || string(body) != "héllo" || string(m.ContentType) != "text/plain" || m.EventID != "e1" || m.Source != "publish" {
		t.Fatalf("first message = %+v %q %v", m, body, err)
	}
	if len(m.Headers) != 1 || m.Headers[0].Name != "X-A" || string(m.Headers[0].Value) != "1" {
		t.Fatalf("headers = %v", m.Headers)
	}
	if _, body, err := n.Broker.Message("events", ids[1].(string)); err != nil || !bytes.Equal(body, binary) {
		t.Fatalf("second message body %v %v", body, err)
	}
	// The same event id again answers the first id.
	code, out = restPublish(t, n, "events", pubTok, map[string]any{"messages": []map[string]any{{"payload": "again", "eventId": "e1"}}})
	if again, _ := out["messageIds"].([]any); code != http.StatusOK || len(again) != 1 || again[0] != ids[0] {
		t.Fatalf("repeat = %d %v, want %v", code, out, ids[0])
	}

	consTok := n.Token(t, "consumer", "consume:events")
	for _, tc := range []struct {
		name, q, token string
		body           any
		status         int
		code           string
	}{
		{"no token", "events", "", map[string]any{"messages": []map[string]any{{"payload": "x"}}}, 401, "unauthenticated"},
		{"consume scope", "events", consTok, map[string]any{"messages": []map[string]any{{"payload": "x"}}}, 403, "forbidden"},
		{"other queue", "other", pubTok, map[string]any{"messages": []map[string]any{{"payload": "x"}}}, 403, "forbidden"},
		{"unknown queue", "missing", n.AdminToken, map[string]any{"messages": []map[string]any{{"payload": "x"}}}, 404, "not_found"},
		{"no messages", "events", pubTok, map[string]any{"messages": []map[string]any{}}, 400, "bad_request"},
		{"bad encoding", "events", pubTok, map[string]any{"messages": []map[string]any{{"payload": "x", "encoding": "hex"}}}, 400, "bad_request"},
		{"bad base64", "events", pubTok, map[string]any{"messages": []map[string]any{{"payload": "%%", "encoding": "base64"}}}, 400, "bad_request"},
		{"unknown field", "events", pubTok, map[string]any{"messages": []map[string]any{{"payload": "x", "body": "y"}}}, 400, "bad_request"},
		{"body too large", "events", pubTok, map[string]any{"messages": []map[string]any{{"payload": strings.Repeat("x", broker.MaxBodyBytes+1)}}}, 413, "payload_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := restPublish(t, n, tc.q, tc.token, tc.body)
			if code != tc.status || errorCodeOf(out) != tc.code {
				t.Fatalf("= %d %v, want %d %s", code, out, tc.status, tc.code)
			}
		})
	}
	// Only the first two messages were enqueued.
	q, err := n.Broker.Queue("events")
	if err != nil || q.Stats.Ready != 2 {
		t.Fatalf("ready = %d (%v), want 2", q.Stats.Ready, err)
	}
}
