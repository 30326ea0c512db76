package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookq/hookq/broker"
)

// Message listing limits (docs/API.md §7.3).
const (
	defaultMessagesLimit = 100
	maxMessagesLimit     = 1000
)

// messageJSON is one element of a message listing: the record without
// payload and deliveries (encoding included). Keys that do not apply are
// null.
type messageJSON struct {
	MessageID   string            `json:"messageId"`
	Queue       string            `json:"queue"`
	State       string            `json:"state"`
	Source      *string           `json:"source"`
	ReceivedAt  string            `json:"receivedAt"`
	EventID     *string           `json:"eventId"`
	ReplayOf    *string           `json:"replayOf"`
	Attempts    uint32            `json:"attempts"`
	DeadLetter  *deadLetterJSON   `json:"deadLetter"`
	ContentType *string           `json:"contentType"`
	Headers     map[string]string `json:"headers"`
	Encoding    string            `json:"encoding"`
}

// messageDetailJSON is GET /v1/queues/{q}/messages/{messageId}.
type messageDetailJSON struct {
	messageJSON
	Payload    string         `json:"payload"`
	Deliveries []deliveryJSON `json:"deliveries"`
}

// deliveryJSON is one lease in a message's history; settledAt and outcome
// are null while the lease is live.
type deliveryJSON struct {
	DeliveryID string  `json:"deliveryId"`
	Attempt    uint32  `json:"attempt"`
	LeasedAt   string  `json:"leasedAt"`
	SettledAt  *string `json:"settledAt"`
	Outcome    *string `json:"outcome"`
	Reason     *string `json:"reason"`
}

func messageOf(m broker.Message) messageJSON {
	return messageJSON{
		MessageID: m.ID, Queue: m.Queue, State: m.State, Source: optString(m.Source),
		ReceivedAt: rfc3339Time(m.ReceivedAt), EventID: optString(m.EventID), ReplayOf: optString(m.ReplayOf),
		Attempts: m.Attempts, DeadLetter: deadLetterOf(m.DeadLetter), ContentType: optString(string(m.ContentType)),
		Headers: headerMap(m.Headers), Encoding: encodingOf(m.BodyUTF8),
	}
}

// encodingOf is the envelope rule of encodePayload for a body known only
// by whether it is valid UTF-8.
func encodingOf(utf8 bool) string {
	if utf8 {
		return "utf8"
	}
	return "base64"
}

// deliveriesOf is m's delivery history. A lease that has ended without
// settlement (the state machine records its expiry lazily) shows as
// "expired", settled at its lease end.
func deliveriesOf(m broker.Message) []deliveryJSON {
	out := make([]deliveryJSON, 0, len(m.Deliveries))
	for _, d := range m.Deliveries {
		dj := deliveryJSON{
			DeliveryID: d.DeliveryID, Attempt: d.Attempt,
			LeasedAt: rfc3339Time(d.LeasedAt), SettledAt: optTimeOf(d.SettledAt),
			Outcome: optString(d.Outcome), Reason: optString(d.Reason),
		}
		if d.Outcome == "" && !d.Live {
			expired := "expired"
			dj.Outcome, dj.SettledAt = &expired, optTimeOf(d.LeaseUntil)
		}
		out = append(out, dj)
	}
	return out
}

// handleListMessages: GET /v1/queues/{q}/messages?state=&limit=&after=.
func (s *Server) handleListMessages(w http.ResponseWriter, r *http.Request) {
	q := r.PathValue("q")
	state := r.URL.Query().Get("state")
	switch state {
	case "", broker.StateReady, broker.StateInflight, broker.StateDelayed, broker.StateAcked:
	default:
		s.writeError(w, r, badRequest("state: %q is not one of ready, inflight, delayed, acked", state))
		return
	}
	limit, err := queryInt(r, "limit", defaultMessagesLimit, 1, maxMessagesLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after := r.URL.Query().Get("after")
	if after != "" && !broker.ValidMessageID(after) {
		s.writeError(w, r, badRequest("after: %q is not a cursor from next", after))
		return
	}
	msgs, next, err := s.adm.Messages(q, state, limit, after)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("queue %q: %w", q, err))
		return
	}
	out := struct {
		Messages []messageJSON `json:"messages"`
		Next     string        `json:"next"`
	}{Messages: make([]messageJSON, 0, len(msgs)), Next: next}
	for _, m := range msgs {
		out.Messages = append(out.Messages, messageOf(m))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleGetMessage: GET /v1/queues/{q}/messages/{messageId}; malformed
// and unknown ids are 404.
func (s *Server) handleGetMessage(w http.ResponseWriter, r *http.Request) {
	q, id := r.PathValue("q"), r.PathValue("messageId")
	m, body, err := s.adm.Message(q, id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("message %s in queue %q: %w", id, q, err))
		return
	}
	payload, enc := encodePayload(body)
	mj := messageOf(m)
	mj.Encoding = enc
	writeJSON(w, http.StatusOK, messageDetailJSON{messageJSON: mj, Payload: payload, Deliveries: deliveriesOf(m)})
}

type replayBody struct {
	MessageIDs *[]string `json:"messageIds"`
	Since      string    `json:"since"`
	Until      string    `json:"until"`
}

// handleReplay: POST /v1/queues/{q}/replay — by ids or by a receivedAt
// range [since, until), never both.
func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	q := r.PathValue("q")
	var body replayBody
	if err := decodeJSON(r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	if body.MessageIDs != nil && (body.Since != "" || body.Until != "") {
		s.writeError(w, r, badRequest("messageIds and since/until cannot be combined"))
		return
	}
	var since, until time.Time
	var err error
	if body.Since != "" {
		if since, err = parseTimeField("since", body.Since); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if body.Until != "" {
		if until, err = parseTimeField("until", body.Until); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		s.writeError(w, r, badRequest("until: %s is not after since %s", body.Until, body.Since))
		return
	}
	n, err := s.adm.Replay(r.Context(), q, selection(body.MessageIDs), since, until)
	if err != nil {
		s.writeError(w, r, selectionError(q, "replay", "since/until or messageIds", err))
		return
	}
	auditAttr(r, "replayed", n)
	writeJSON(w, http.StatusOK, map[string]int64{"replayed": n})
}

// selection is the ids of a messageIds field for Replay and Redrive: nil
// when it is absent (all, or by time), non-nil when given, so an explicit
// [] selects nothing (the broker still checks the queue).
func selection(ids *[]string) []string {
	if ids == nil {
		return nil
	}
	if *ids == nil {
		return []string{}
	}
	return *ids
}

type redriveBody struct {
	MessageIDs *[]string `json:"messageIds"`
}

// handleRedrive: POST /v1/queues/{dlq}/redrive — the named messages, or
// all with {}; 400 on a queue that is not a dead-letter queue.
func (s *Server) handleRedrive(w http.ResponseWriter, r *http.Request) {
	q := r.PathValue("q")
	var body redriveBody
	if err := decodeJSON(r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.adm.Redrive(r.Context(), q, selection(body.MessageIDs))
	if err != nil {
		s.writeError(w, r, selectionError(q, "redrive", "messageIds", err))
		return
	}
	auditAttr(r, "redriven", n)
	writeJSON(w, http.StatusOK, map[string]int64{"redriven": n})
}

// selectionError words a replay's or redrive's error; one over the bounds
// of a selection tells how to narrow it.
func selectionError(q, what, narrow string, err error) error {
	if errors.Is(err, broker.ErrSelectionTooLarge) {
		n, size := broker.SelectionLimits()
		return fmt.Errorf("queue %q: %w: one %s selects at most %d messages and %d MiB of bodies; nothing was changed; narrow the selection with %s",
			q, err, what, n, size>>20, narrow)
	}
	return fmt.Errorf("queue %q: %w", q, err)
}

// handlePurge: POST /v1/queues/{q}/purge → {"purged":N}.
func (s *Server) handlePurge(w http.ResponseWriter, r *http.Request) {
	q := r.PathValue("q")
	n, err := s.adm.Purge(r.Context(), q)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("queue %q: %w", q, err))
		return
	}
	auditAttr(r, "purged", n)
	writeJSON(w, http.StatusOK, map[string]int64{"purged": n})
}
