package api

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hookq/hookq/broker"
)

// deadLetterJSON is a dead-lettered message's origin (docs/API.md §3.6).
type deadLetterJSON struct {
	OriginQueue string `json:"originQueue"`
	Reason      string `json:"reason"`
	Attempts    uint32 `json:"attempts"`
	DeadAt      string `json:"deadAt"`
}

func deadLetterOf(d *broker.DeadLetter) *deadLetterJSON {
	if d == nil {
		return nil
	}
	return &deadLetterJSON{OriginQueue: d.OriginQueue, Reason: d.Reason, Attempts: d.Attempts, DeadAt: rfc3339Time(d.DeadAt)}
}

// metaJSON is the meta of docs/API.md §6.1: in X-Hookq-Meta and in envelopes.
// Absent eventId, replayOf and deadLetter are left out (message records
// show them as null). An auto-acked delivery has no lease: its meta leaves
// out leaseExpiresAt and the four action URLs.
type metaJSON struct {
	MessageID      string            `json:"messageId"`
	DeliveryID     string            `json:"deliveryId"`
	Queue          string            `json:"queue"`
	Source         string            `json:"source"`
	Attempt        uint32            `json:"attempt"`
	ReceivedAt     string            `json:"receivedAt"`
	LeaseExpiresAt string            `json:"leaseExpiresAt,omitempty"`
	EventID        string            `json:"eventId,omitempty"`
	ReplayOf       string            `json:"replayOf,omitempty"`
	DeadLetter     *deadLetterJSON   `json:"deadLetter,omitempty"`
	Headers        map[string]string `json:"headers"`
	AckURL         string            `json:"ackUrl,omitempty"`
	NackURL        string            `json:"nackUrl,omitempty"`
	RejectURL      string            `json:"rejectUrl,omitempty"`
	ExtendURL      string            `json:"extendUrl,omitempty"`
}

// MaxMetaHeaderBytes bounds X-Hookq-Meta: common clients and proxies
// refuse response headers past 8-16 KiB (nginx's proxy_buffer_size is 4-8
// KiB, Node's whole header block 16 KiB), and a header-heavy webhook's
// meta can be far larger.
const MaxMetaHeaderBytes = 8 << 10

// headerMetaJSON is meta as X-Hookq-Meta carries it when the whole of it
// would be over MaxMetaHeaderBytes: Headers shadows metaJSON's and is left
// out, HeadersOmitted says so. Truncated says that eventId, replayOf and
// deadLetter were left out too, which only a meta with very long ones
// (many escaped characters) needs.
type headerMetaJSON struct {
	metaJSON
	Headers        *struct{} `json:"headers,omitempty"`
	HeadersOmitted bool      `json:"headersOmitted"`
	Truncated      bool      `json:"truncated,omitempty"`
}

// metaHeader is the X-Hookq-Meta value of d: meta as one line of ASCII
// JSON, at most MaxMetaHeaderBytes for any message content. What is left
// out stays available in lease and stream envelopes and in the message
// detail (GET /v1/queues/{q}/messages/{id}).
func (s *Server) metaHeader(d broker.Delivery) (string, error) {
	m := s.meta(d)
	b, err := asciiJSON(m)
	if err != nil || len(b) <= MaxMetaHeaderBytes {
		return string(b), err
	}
	short := headerMetaJSON{metaJSON: m, HeadersOmitted: true}
	if b, err = asciiJSON(short); err != nil || len(b) <= MaxMetaHeaderBytes {
		return string(b), err
	}
	short.EventID, short.ReplayOf, short.DeadLetter, short.Truncated = "", "", nil, true
	b, err = asciiJSON(short)
	return string(b), err
}

// envelopeJSON is one delivery in batch leases and SSE frames.
type envelopeJSON struct {
	Payload     string   `json:"payload"`
	Encoding    string   `json:"encoding"`
	ContentType string   `json:"contentType"`
	Meta        metaJSON `json:"meta"`
}

func headerMap(hs []broker.Header) map[string]string {
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		m[h.Name] = string(h.Value)
	}
	return m
}

// deliveryURL is the absolute URL of an action on a delivery.
func (s *Server) deliveryURL(q, id, action string) string {
	return fmt.Sprintf("%s/v1/queues/%s/deliveries/%s/%s", s.base, q, id, action)
}

func (s *Server) meta(d broker.Delivery) metaJSON {
	m := d.Message
	out := metaJSON{
		MessageID: m.ID, DeliveryID: d.DeliveryID, Queue: d.Queue, Source: m.Source,
		Attempt: m.Attempts, ReceivedAt: rfc3339Time(m.ReceivedAt),
		EventID: m.EventID, ReplayOf: m.ReplayOf, DeadLetter: deadLetterOf(m.DeadLetter), Headers: headerMap(m.Headers),
	}
	if !d.AutoAcked {
		out.LeaseExpiresAt = rfc3339Time(d.LeaseExpires)
		out.AckURL, out.NackURL = s.deliveryURL(d.Queue, d.DeliveryID, "ack"), s.deliveryURL(d.Queue, d.DeliveryID, "nack")
		out.RejectURL, out.ExtendURL = s.deliveryURL(d.Queue, d.DeliveryID, "reject"), s.deliveryURL(d.Queue, d.DeliveryID, "extend")
	}
	return out
}

// linkHeader lists the action URLs as an RFC 8288 Link header; "" for
// an auto-acked delivery, which has none.
func (s *Server) linkHeader(d broker.Delivery) string {
	if d.AutoAcked {
		return ""
	}
	var parts []string
	for _, a := range []string{"ack", "nack", "reject", "extend"} {
		parts = append(parts, fmt.Sprintf(`<%s>; rel="%s"`, s.deliveryURL(d.Queue, d.DeliveryID, a), a))
	}
	return strings.Join(parts, ", ")
}

// encodePayload is the envelope rule: utf8 text unless the body is not
// valid UTF-8, then base64.
func encodePayload(body []byte) (string, string) {
	if utf8.Valid(body) {
		return string(body), "utf8"
	}
	return base64.StdEncoding.EncodeToString(body), "base64"
}

func contentTypeOr(ct []byte) string {
	if len(ct) == 0 {
		return "application/octet-stream"
	}
	return string(ct)
}

func (s *Server) envelope(d broker.Delivery) envelopeJSON {
	p, enc := encodePayload(d.Body)
	return envelopeJSON{Payload: p, Encoding: enc, ContentType: contentTypeOr(d.Message.ContentType), Meta: s.meta(d)}
}
