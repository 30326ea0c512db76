package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookq/hookq/broker"
	"time"
)

// fuzzDelivery is a delivery whose message carries count headers named
// name-<i> (at most 64) with value value, and the other fuzzed fields.
func fuzzDelivery(name string, value []byte, count uint16, eventID, replayOf string, contentType, body []byte, reason string) broker.Delivery {
	hs := make([]broker.Header, 0, count%65)
	for i := 0; i < int(count%65); i++ {
		hs = append(hs, broker.Header{Name: fmt.Sprintf("%s-%d", name, i), Value: value})
	}
	m := broker.Message{
		ID: "000000000000002a", Queue: "orders.dlq", State: broker.StateInflight, Source: "src",
		ReceivedAt: time.Unix(0, 1_700_000_000_000_000_000), EventID: eventID, ReplayOf: replayOf,
		ContentType: contentType, Headers: hs, Attempts: 3,
	}
	if reason != "" {
		m.DeadLetter = &broker.DeadLetter{OriginQueue: "orders", Reason: reason, Attempts: 3, DeadAt: time.Unix(0, 1_700_000_001_000_000_000)}
	}
	return broker.Delivery{Queue: "orders.dlq", DeliveryID: "0000000000000042.3.AAAAAAAAAAAAAAAAAAAAAA", Message: m, Body: body, LeaseExpires: time.Unix(0, 1_700_000_030_000_000_000)}
}

// asJSONString is s as encoding/json decodes it after encoding it: every
// byte of an invalid UTF-8 sequence becomes U+FFFD.
func asJSONString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte
		i += size
	}
	return b.String()
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// FuzzMetaEncoding: whatever a webhook carries, X-Hookq-Meta is printable
// ASCII JSON within MaxMetaHeaderBytes that still names the delivery and
// its action URLs; an envelope is one printable ASCII line (one SSE data
// line) that keeps every header and round-trips the payload by docs/API.md §6.2's
// utf8/base64 rule.
func FuzzMetaEncoding(f *testing.F) {
	f.Add("X-Note", []byte("caf\xe9"), uint16(1), "evt_1", "", []byte("application/json"), []byte(`{"a":1}`), "")
	f.Add("X-Big", bytes.Repeat([]byte("v"), 1000), uint16(40), "", "", []byte("text/plain"), []byte("hi"), "")
	f.Add("X-Uni", []byte(strings.Repeat("é😀\u2028", 50)), uint16(30), "ü", "0000000000000001", []byte("text/plain; charset=utf-8"), []byte("\xff\xfe\x00"), "")
	f.Add("X-Del", []byte("a\x7fb\r\nc\x00"), uint16(2), "id\x7f\n", "", []byte("x\r\ny"), []byte("line1\r\nline2\u2028"), "max attempts")
	f.Add("X-Ctl", []byte{1, 2, 3}, uint16(0), strings.Repeat("\x01", 256), "", []byte(nil), []byte(nil), strings.Repeat("\x01", 1024))
	f.Add("\xff", []byte("\xc3"), uint16(3), "\xff\xfe", "r", []byte("\xe9"), []byte("\xc3\x28"), "\xff")
	f.Fuzz(func(t *testing.T, name string, value []byte, count uint16, eventID, replayOf string, contentType, body []byte, reason string) {
		s := &Server{base: "http://127.0.0.1:8080"}
		d := fuzzDelivery(name, value, count, eventID, replayOf, contentType, body, reason)

		hdr, err := s.metaHeader(d)
		if err != nil {
			t.Fatalf("metaHeader: %v", err)
		}
		if !printableASCII(hdr) {
			t.Fatalf("X-Hookq-Meta is not printable ASCII: %q", hdr)
		}
		if len(hdr) > MaxMetaHeaderBytes {
			t.Fatalf("X-Hookq-Meta is %d bytes, over %d", len(hdr), MaxMetaHeaderBytes)
		}
		var hm struct {
			DeliveryID     string             `json:"deliveryId"`
			AckURL         string             `json:"ackUrl"`
			EventID        *string            `json:"eventId"`
			Headers        *map[string]string `json:"headers"`
			HeadersOmitted bool               `json:"headersOmitted"`
			Truncated      bool               `json:"truncated"`
		}
		if err := json.Unmarshal([]byte(hdr), &hm); err != nil {
			t.Fatalf("X-Hookq-Meta is not JSON: %v: %q", err, hdr)
		}
		if hm.DeliveryID != d.DeliveryID || hm.AckURL != s.deliveryURL(d.Queue, d.DeliveryID, "ack") {
			t.Fatalf("X-Hookq-Meta lost the delivery: %q", hdr)
		}
		if (hm.Headers == nil) != hm.HeadersOmitted || (hm.Truncated && !hm.HeadersOmitted) {
			t.Fatalf("headers present %v, headersOmitted %v, truncated %v", hm.Headers != nil, hm.HeadersOmitted, hm.Truncated)
		}
		if !hm.Truncated && eventID != "" && (hm.EventID == nil || *hm.EventID != asJSONString(eventID)) {
			t.Fatalf("eventId %q became %v", eventID, hm.EventID)
		}

		env, err := asciiJSON(s.envelope(d))
		if err != nil {
			t.Fatalf("envelope: %v", err)
		}
		frame := "data: " + string(env) + "\n"
		if !printableASCII(string(env)) || strings.Count(frame, "\n") != 1 || strings.Contains(frame, "\r") {
			t.Fatalf("envelope is not one printable line: %q", env)
		}
		var e struct {
			Payload  string `json:"payload"`
			Encoding string `json:"encoding"`
			Meta     struct {
				Headers map[string]string `json:"headers"`
			} `json:"meta"`
		}
		if err := json.Unmarshal(env, &e); err != nil {
			t.Fatalf("envelope is not JSON: %v", err)
		}
		switch e.Encoding {
		case "utf8":
			if !utf8.Valid(body) || e.Payload != string(body) {
				t.Fatalf("utf8 payload %q, body %q", e.Payload, body)
			}
		case "base64":
			got, err := base64.StdEncoding.DecodeString(e.Payload)
			if utf8.Valid(body) || err != nil || !bytes.Equal(got, body) {
				t.Fatalf("base64 payload %q (%v), body %q", e.Payload, err, body)
			}
		default:
			t.Fatalf("encoding %q", e.Encoding)
		}
		if utf8.ValidString(name) {
			for _, h := range d.Message.Headers {
				if got, ok := e.Meta.Headers[h.Name]; !ok || got != asJSONString(string(h.Value)) {
					t.Fatalf("envelope header %q = %q, %v; want %q", h.Name, got, ok, h.Value)
				}
			}
		}
	})
}
