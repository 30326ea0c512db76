package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hookq/hookq/ingest"
)

type metaT struct {
	MessageID      string            `json:"messageId"`
	DeliveryID     string            `json:"deliveryId"`
	Queue          string            `json:"queue"`
	Source         string            `json:"source"`
	Attempt        int               `json:"attempt"`
	ReceivedAt     string            `json:"receivedAt"`
	LeaseExpiresAt string            `json:"leaseExpiresAt"`
	Headers        map[string]string `json:"headers"`
	AckURL         string            `json:"ackUrl"`
	NackURL        string            `json:"nackUrl"`
	RejectURL      string            `json:"rejectUrl"`
	ExtendURL      string            `json:"extendUrl"`
}

func TestIngestNextAckEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.queue("demo")
	e.source("demo", ingest.SourceConfig{Queues: []string{"demo"}, Verify: ingest.VerifyConfig{Type: "none"}})

	resp, body := e.do("POST", "/hooks/demo", "", `{"hello":"world"}`, "Content-Type", "application/json", "X-Custom", "a")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	var ing struct {
		MessageID string `json:"messageId"`
		Duplicate bool   `json:"duplicate"`
	}
	if err := json.Unmarshal(body, &ing); err != nil || ing.MessageID == "" || ing.Duplicate {
		t.Fatalf("ingest body %s", body)
	}

	resp, body = e.do("GET", "/v1/queues/demo/next?wait=1s", adminToken, nil)
	if resp.StatusCode != http.StatusOK || string(body) != `{"hello":"world"}` {
		t.Fatalf("next: %d %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	var m metaT
	if err := json.Unmarshal([]byte(resp.Header.Get("X-Hookq-Meta")), &m); err != nil {
		t.Fatalf("meta: %v", err)
	}
	if m.MessageID != ing.MessageID || m.Queue != "demo" || m.Source != "demo" || m.Attempt != 1 || m.Headers["X-Custom"] != "a" {
		t.Fatalf("meta = %+v", m)
	}
	want := e.srv.URL + "/v1/queues/demo/deliveries/" + m.DeliveryID + "/ack"
	if m.AckURL != want {
		t.Fatalf("ackUrl %q, want %q", m.AckURL, want)
	}
	if resp.Header.Get("Link") == "" {
		t.Fatal("no Link header")
	}

	resp, body = e.do("POST", m.AckURL, adminToken, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("ack: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", m.AckURL, adminToken, nil)
	expectError(t, resp, body, http.StatusConflict, "lease_expired")

	resp, _ = e.do("GET", "/v1/queues/demo/next", adminToken, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("empty queue next: %d", resp.StatusCode)
	}
}

func TestNextRequiresToken(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	resp, body := e.do("GET", "/v1/queues/q/next", "", nil)
	expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
	resp, body = e.do("GET", "/v1/queues/q/next", "wrong", nil)
	expectError(t, resp, body, http.StatusUnauthorized, "unauthenticated")
}

func TestNextRejectsWaitOver30s(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	resp, body := e.do("GET", "/v1/queues/q/next?wait=31s", adminToken, nil)
	expectError(t, resp, body, http.StatusBadRequest, "bad_request")
}

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, body := e.do("GET", p, "", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
}
