package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawRequest writes req byte for byte (no client-side header checks) and
// returns the response status and body.
func rawRequest(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", firstLine(req), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\r\n"); return l }

// rawReq builds an HTTP/1.1 request with a body; hdrs are "Name: value"
// lines written exactly as given.
func rawReq(method, path, host, body string, hdrs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %d\r\n", method, path, host, len(body))
	for _, h := range hdrs {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// Issue 8, finding 1: one unauthenticated request with a non-UTF-8 byte in
// a header, or %FF in a path id, used to panic the node while encoding
// the Raft command. Each now gets an ordinary answer, the bytes of header
// values are kept, the node stays up, and nothing acknowledged is lost,
// also across a restart (no poison reached the log).
func TestHostileBytesNeitherCrashNorLose(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	p := newProc(t, "n1")
	p.start()
	p.waitReady(20 * time.Second)
	setupQueue(t, p, "demo")
	mustCall(t, 201, "PUT", p.url("/v1/sources/gh"), map[string]any{
		"queues": []string{"demo"}, "verify": map[string]any{"type": "github", "secrets": []string{"gh-secret"}}})
	auth := "Authorization: Bearer " + testAdmin

	acked := map[string]bool{}
	post := func(label, req string, want int) {
		t.Helper()
		code, body := rawRequest(t, p.http, req)
		if code != want {
			t.Fatalf("%s: %d %s, want %d", label, code, body, want)
		}
		if code == 202 {
			var r struct{ MessageID string }
			if err := json.Unmarshal([]byte(body), &r); err != nil || r.MessageID == "" {
				t.Fatalf("%s: body %q", label, body)
			}
			acked[r.MessageID] = true
		}
	}
	for i := range 3 {
		post("plain", rawReq("POST", "/hooks/demo", p.http, fmt.Sprintf(`{"n":%d}`, i)), 202)
	}
	post("X-Note caf\\xe9", rawReq("POST", "/hooks/demo", p.http, "hi", "X-Note: caf\xe9"), 202)
	post("Content-Type \\xe9", rawReq("POST", "/hooks/demo", p.http, "hi", "Content-Type: text/plain; charset=\xe9"), 202)
	post("dedup header \\xff", rawReq("POST", "/hooks/demo", p.http, "x", "X-Event-Id: \xff\xfe-1"), 202)
	post("dedup header \\xff again", rawReq("POST", "/hooks/demo", p.http, "x", "X-Event-Id: \xff\xfe-1"), 200)
	post("other dedup header \\xff", rawReq("POST", "/hooks/demo", p.http, "x", "X-Event-Id: \xff\xfd-1"), 202)
	ghBody := `{"zen":"hi"}`
	mac := hmac.New(sha256.New, []byte("gh-secret"))
	mac.Write([]byte(ghBody))
	post("github unsigned User-Agent \\xff", rawReq("POST", "/hooks/gh", p.http, ghBody,
		"X-Hub-Signature-256: sha256="+hex.EncodeToString(mac.Sum(nil)), "X-GitHub-Delivery: d\xff1",
		"User-Agent: GitHub-Hookshot/\xff\xfe"), 202)
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/v1/queues/demo/deliveries/%FF/ack", ""},
		{"POST", "/v1/queues/demo/deliveries/%FF%FE%C3/nack", `{"reason":"x"}`},
		{"POST", "/v1/queues/%FF/settle", `{"ack":["x"]}`},
		{"POST", "/v1/queues/%FF/lease", `{"max":1}`},
		{"GET", "/v1/queues/%FF/next", ""},
		{"DELETE", "/v1/tokens/%FF", ""},
		{"DELETE", "/v1/cluster/nodes/%FF", ""},
		{"POST", "/v1/queues/%FF/purge", ""},
		{"DELETE", "/v1/queues/%FF", ""},
		{"DELETE", "/v1/sources/%FF", ""},
		{"GET", "/v1/queues/%FF/messages/%FF", ""},
	} {
		post(c.method+" "+c.path, rawReq(c.method, c.path, p.http, c.body, auth), 404)
	}
	// The same bytes in settle bodies: per-item not_found, nothing else.
	code, out, _, err := call("POST", p.url("/v1/queues/demo/settle"), `{"ack":["\udcff","`+strings.Repeat("A", 300)+`"]}`)
	if err != nil || code != 200 || strings.Count(string(out), `"not_found"`) != 2 {
		t.Fatalf("settle of malformed ids: %d %v %s", code, err, out)
	}

	check := func(stage string) {
		t.Helper()
		if !p.alive() {
			t.Fatalf("%s: node died:\n%s", stage, p.log())
		}
		got, _ := drainKeep(t, p, "demo")
		for id := range acked {
			if !got[id] {
				t.Fatalf("%s: acknowledged message %s missing (have %d of %d)", stage, id, len(got), len(acked))
			}
		}
		if len(got) != len(acked) {
			t.Fatalf("%s: %d messages, want %d", stage, len(got), len(acked))
		}
	}
	check("after hostile requests")
	// The raw bytes of a header survive to the consumer: next serves the
	// original Content-Type byte for byte.
	found := false
	for range len(acked) {
		code, _, h, err := call("GET", p.url("/v1/queues/demo/next?visibility=1h"), nil)
		if err != nil || code != 200 {
			break
		}
		if h.Get("Content-Type") == "text/plain; charset=\xe9" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no delivery kept the Content-Type bytes text/plain; charset=\\xe9")
	}
	p.kill()
	p.start()
	p.waitReady(20 * time.Second)
	check("after restart")
}

// drainKeep lists every message in q (any state) through the admin API.
func drainKeep(t *testing.T, p *proc, q string) (map[string]bool, int) {
	t.Helper()
	ids := map[string]bool{}
	after := ""
	for range 100 {
		out := mustCall(t, 200, "GET", p.url("/v1/queues/"+q+"/messages?limit=1000&after="+after), nil)
		var res struct {
			Messages []struct {
				MessageID string `json:"messageId"`
			} `json:"messages"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("messages: %v", err)
		}
		for _, m := range res.Messages {
			ids[m.MessageID] = true
		}
		if res.Next == "" {
			return ids, len(ids)
		}
		after = res.Next
	}
	t.Fatalf("messages of %s: too many pages", q)
	return nil, 0
}
