package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hookq/hookq/ingest"
)

func TestHookOtherMethodsAre405AllowPost(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.source("x", ingest.SourceConfig{Queues: []string{"q"}, Verify: ingest.VerifyConfig{Type: "none"}})
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, src := range []string{"x", "never-created"} {
			resp, body := e.do(method, "/hooks/"+src, "", nil)
			expectError(t, resp, body, http.StatusMethodNotAllowed, "method_not_allowed")
			if got := resp.Header.Get("Allow"); got != http.MethodPost {
				t.Fatalf("%s /hooks/%s: Allow = %q, want POST", method, src, got)
			}
		}
	}
	if s := e.consStats("q"); s.Enqueued != 0 {
		t.Fatalf("enqueued %d through a refused method", s.Enqueued)
	}
	// POST still ingests; other paths keep their 404.
	if resp, body := e.do(http.MethodPost, "/hooks/x", "", "{}"); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /hooks/x: %d %s", resp.StatusCode, body)
	}
	resp, body := e.do(http.MethodGet, "/hooks", "", nil)
	expectError(t, resp, body, http.StatusNotFound, "not_found")
}

func TestMessageListingCarriesEncoding(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	text := e.consPut("q", `{"a":1}`, "application/json")
	binary := e.consPut("q", "\xff\xfe\x00", "application/octet-stream")
	resp, raw := e.do("GET", "/v1/queues/q/messages", adminToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list: %d %s", resp.StatusCode, raw)
	}
	var page struct {
		Messages []struct {
			MessageID string `json:"messageId"`
			Encoding  string `json:"encoding"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range page.Messages {
		got[m.MessageID] = m.Encoding
	}
	if got[text] != "utf8" || got[binary] != "base64" || len(got) != 2 {
		t.Fatalf("encodings %v, want %s utf8 and %s base64", got, text, binary)
	}
	// The listing agrees with the record.
	for id, enc := range got {
		_, raw := e.do("GET", "/v1/queues/q/messages/"+id, adminToken, nil)
		var rec struct {
			Encoding string `json:"encoding"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil || rec.Encoding != enc {
			t.Fatalf("record %s encoding %q (%v), listing %q", id, rec.Encoding, err, enc)
		}
	}
}

// One rule for absent values: meta leaves eventId, replayOf and
// deadLetter out; message records show them as null.
func TestAbsentValuesOmittedInMetaNullInRecords(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	id := e.consPut("q", "x", "text/plain")
	resp, _ := e.do("GET", "/v1/queues/q/next?wait=5s", adminToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("next: %d", resp.StatusCode)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal([]byte(resp.Header.Get("X-Hookq-Meta")), &meta); err != nil {
		t.Fatal(err)
	}
	_, raw := e.do("GET", "/v1/queues/q/messages/"+id, adminToken, nil)
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"eventId", "replayOf", "deadLetter"} {
		if v, ok := meta[k]; ok {
			t.Errorf("meta has %s = %s; absent values are left out of meta", k, v)
		}
		if string(rec[k]) != "null" {
			t.Errorf("record %s = %q, want null", k, rec[k])
		}
	}
}
