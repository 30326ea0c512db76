package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"unicode/utf8"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/ingest"
	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
)

// Publishing (gRPC Publisher.Publish and its REST twin POST
// /v1/queues/{q}/publish, docs/API.md §11.2): trusted producers append
// messages to a queue without webhook verification.
const (
	// PublishSource is the source published messages carry in their meta.
	PublishSource = "publish"
	// PublishDedupWindow is how long an event id of a published message
	// de-duplicates later publishes of the same id to the same queue.
	PublishDedupWindow = ingest.DefaultDedupWindow
	// maxPublishHeaderName bounds one header name of a published message.
	maxPublishHeaderName = 256
	// maxPublishJSONBody bounds the JSON body of the REST publish: the
	// bodies' MaxPublishBytes as base64, plus room for the rest.
	maxPublishJSONBody = MaxPublishBytes/3*4 + 4<<20
)

// publishMessage is one message to publish, from either front end.
type publishMessage struct {
	body        []byte
	contentType string
	headers     map[string]string
	eventID     string
}

// publisherService is hookq.v1.Publisher over a Server.
type publisherService struct {
	hookqv1.UnimplementedPublisherServer
	s *Server
}

// Publish appends the request's messages once they are all committed.
func (ps publisherService) Publish(ctx context.Context, req *hookqv1.PublishRequest) (*hookqv1.PublishResponse, error) {
	q := req.GetQueue()
	if _, err := grpcAuthorize(ctx, "publish", q); err != nil {
		return nil, err
	}
	msgs := make([]publishMessage, len(req.GetMessages()))
	for i, m := range req.GetMessages() {
		msgs[i] = publishMessage{body: m.GetBody(), contentType: m.GetContentType(), headers: m.GetHeaders(), eventID: m.GetEventId()}
	}
	ids, err := ps.s.publish(ctx, q, msgs)
	if err != nil {
		return nil, err
	}
	return &hookqv1.PublishResponse{MessageIds: ids}, nil
}

// publish checks msgs, then enqueues them on q one after the other, each
// once the one before is committed, so they are appended (and leased) in
// request order; it answers their ids once all are committed. The first
// failure is the answer; messages committed before it stay committed (a
// retry with event ids is safe). Concurrent requests share Raft entries.
func (s *Server) publish(ctx context.Context, q string, msgs []publishMessage) ([]string, error) {
	if !ingest.ValidName(q) {
		return nil, fmt.Errorf("queue %q: %w", q, broker.ErrQueueNotFound)
	}
	reqs, err := publishRequests(q, msgs)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(reqs))
	for i, req := range reqs {
		res, err := s.in.Enqueue(ctx, req)
		if err != nil {
			if len(reqs) == 1 {
				return nil, fmt.Errorf("queue %q: %w", q, err)
			}
			return nil, fmt.Errorf("queue %q: message %d (%d before it committed): %w", q, i, i, err)
		}
		ids[i] = res.MessageID
		if !res.Duplicate {
			s.metrics.published.WithLabelValues(q).Inc()
		}
	}
	return ids, nil
}

// publishRequests checks every message before any is enqueued, so a bad
// one publishes none.
func publishRequests(q string, msgs []publishMessage) ([]broker.EnqueueRequest, error) {
	if len(msgs) == 0 {
		return nil, badRequest("messages: at least one message")
	}
	if len(msgs) > MaxPublishMessages {
		return nil, badRequest("messages: at most %d per request, got %d", MaxPublishMessages, len(msgs))
	}
	total := 0
	reqs := make([]broker.EnqueueRequest, len(msgs))
	for i, m := range msgs {
		if len(m.body) > broker.MaxBodyBytes {
			return nil, fmt.Errorf("%w: messages[%d]: body of %d bytes is over the limit of %d", errTooLarge, i, len(m.body), broker.MaxBodyBytes)
		}
		total += len(m.body)
		if total > MaxPublishBytes {
			return nil, fmt.Errorf("%w: the bodies of one publish are over %d bytes together", errTooLarge, MaxPublishBytes)
		}
		if len(m.eventID) > ingest.MaxEventIDLen || !utf8.ValidString(m.eventID) {
			return nil, badRequest("messages[%d].eventId: valid UTF-8 of at most %d bytes", i, ingest.MaxEventIDLen)
		}
		if !headerValueOK(m.contentType) {
			return nil, badRequest("messages[%d].contentType: control characters are not allowed (it is sent back as an HTTP Content-Type)", i)
		}
		if len(m.headers) > broker.MaxHeaders {
			return nil, badRequest("messages[%d].headers: at most %d", i, broker.MaxHeaders)
		}
		hs := make([]broker.Header, 0, len(m.headers))
		size := len(m.contentType)
		for name, v := range m.headers {
			if name == "" || len(name) > maxPublishHeaderName {
				return nil, badRequest("messages[%d].headers: a name must be 1..%d bytes", i, maxPublishHeaderName)
			}
			size += len(name) + len(v)
			hs = append(hs, broker.Header{Name: name, Value: []byte(v)})
		}
		if size > broker.MaxHeaderBytes {
			return nil, badRequest("messages[%d]: headers and content type over %d bytes together", i, broker.MaxHeaderBytes)
		}
		sort.Slice(hs, func(a, b int) bool { return hs[a].Name < hs[b].Name })
		reqs[i] = broker.EnqueueRequest{
			Source: PublishSource, Queues: []string{q}, Body: m.body, ContentType: []byte(m.contentType),
			Headers: hs, EventID: m.eventID,
		}
		if m.eventID != "" {
			reqs[i].DedupKey, reqs[i].DedupWindow = publishDedupKey(q, m.eventID), PublishDedupWindow
		}
	}
	return reqs, nil
}

// headerValueOK reports whether v can be an HTTP header value as it is:
// no control characters but tab (RFC 9110 field-value).
func headerValueOK(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// publishDedupKey is the dedup key of a published event id: per queue,
// and never equal to a key a source's provider ids produce (those are the
// raw id, or the hash of the raw id alone).
func publishDedupKey(q, eventID string) string {
	sum := sha256.Sum256([]byte("hookq-publish\x00" + q + "\x00" + eventID))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// publishMessageJSON is one message of POST /v1/queues/{q}/publish.
type publishMessageJSON struct {
	Payload     string            `json:"payload"`
	Encoding    string            `json:"encoding"`
	ContentType string            `json:"contentType"`
	Headers     map[string]string `json:"headers"`
	EventID     string            `json:"eventId"`
}

// handlePublish: POST /v1/queues/{q}/publish — the REST twin of
// Publisher.Publish; 200 {"messageIds":[…]} once all are committed.
func (s *Server) handlePublish(w http.ResponseWriter, r *http.Request) {
	q := r.PathValue("q")
	if _, ok := s.authorize(w, r, "publish", q); !ok {
		return
	}
	var body struct {
		Messages []publishMessageJSON `json:"messages"`
	}
	if err := s.decodeLargeJSON(w, r, &body, maxPublishJSONBody); err != nil {
		s.writeError(w, r, err)
		return
	}
	msgs := make([]publishMessage, len(body.Messages))
	for i, m := range body.Messages {
		msgs[i] = publishMessage{contentType: m.ContentType, headers: m.Headers, eventID: m.EventID}
		switch m.Encoding {
		case "", "utf8":
			msgs[i].body = []byte(m.Payload)
		case "base64":
			b, err := base64.StdEncoding.DecodeString(m.Payload)
			if err != nil {
				s.writeError(w, r, badRequest("messages[%d].payload: not base64: %v", i, err))
				return
			}
			msgs[i].body = b
		default:
			s.writeError(w, r, badRequest("messages[%d].encoding: %q is not utf8 or base64", i, m.Encoding))
			return
		}
	}
	ids, err := s.publish(r.Context(), q, msgs)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]string{"messageIds": ids})
}

// decodeLargeJSON is decodeJSON (required, strict) for bodies up to
// limit bytes, read within the node-wide body budget.
func (s *Server) decodeLargeJSON(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	br := &budgetReader{r: http.MaxBytesReader(w, r.Body, limit), s: s}
	defer br.release()
	raw, err := io.ReadAll(br)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, errBodyBudget):
			return err
		case errors.As(err, &mbe):
			return fmt.Errorf("%w: JSON body over %d bytes", errTooLarge, limit)
		}
		return badRequest("reading body: %v", err)
	}
	return decodeStrict(raw, v, false)
}
