package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf16"

	"github.com/hookq/hookq/broker"
)

// leaseParams are the query parameters shared by next and stream.
func leaseParams(r *http.Request) (vis time.Duration, autoAck bool, err error) {
	if vis, _, err = queryDuration(r, "visibility", minVisibility, maxVisibility); err != nil {
		return
	}
	autoAck, err = queryBool(r, "autoAck")
	return
}

// handleNext: GET /v1/queues/{q}/next — one message, raw body, meta in a
// header; 204 when nothing arrives within wait.
func (s *Server) handleNext(w http.ResponseWriter, r *http.Request, q string) {
	wait, _, err := queryDuration(r, "wait", 0, maxWait)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	vis, autoAck, err := leaseParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ds, err := s.lease(r, q, broker.LeaseOptions{Max: 1, Wait: wait, Visibility: vis, AutoAck: autoAck})
	if err != nil {
		s.writeError(w, r, fmt.Errorf("queue %q: %w", q, err))
		return
	}
	if len(ds) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	d := ds[0]
	meta, err := s.metaHeader(d)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("delivery %s: encoding meta: %w", d.DeliveryID, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeOr(d.Message.ContentType))
	h.Set("X-Hookq-Meta", meta)
	if link := s.linkHeader(d); link != "" {
		h.Set("Link", link)
	}
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(d.Body)
}

type nackBody struct {
	Reason string `json:"reason"`
	Delay  string `json:"delay"`
}

type rejectBody struct {
	Reason string `json:"reason"`
}

type extendBody struct {
	Visibility string `json:"visibility"`
}

// handleDeliveryAction: POST /v1/queues/{q}/deliveries/{id}/{ack|nack|reject|extend}.
func (s *Server) handleDeliveryAction(w http.ResponseWriter, r *http.Request, q string) {
	id := r.PathValue("id")
	item := broker.SettleItem{DeliveryID: id}
	switch action := r.PathValue("action"); action {
	case "ack":
		item.Action = broker.Ack
	case "nack":
		var body nackBody
		if err := decodeJSON(r, &body, true); err != nil {
			s.writeError(w, r, err)
			return
		}
		item.Action, item.Reason = broker.Nack, body.Reason
		if err := checkReason("reason", body.Reason); err != nil {
			s.writeError(w, r, err)
			return
		}
		if body.Delay != "" {
			d, err := parseDuration("delay", body.Delay, 0, maxNackDelay)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			item.HasDelay, item.Delay = true, d
		}
	case "reject":
		var body rejectBody
		if err := decodeJSON(r, &body, true); err != nil {
			s.writeError(w, r, err)
			return
		}
		item.Action, item.Reason = broker.Reject, body.Reason
		if err := checkReason("reason", body.Reason); err != nil {
			s.writeError(w, r, err)
			return
		}
	case "extend":
		var body extendBody
		if err := decodeJSON(r, &body, false); err != nil {
			s.writeError(w, r, err)
			return
		}
		if body.Visibility == "" {
			s.writeError(w, r, badRequest("visibility: required"))
			return
		}
		d, err := parseDuration("visibility", body.Visibility, minVisibility, maxVisibility)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		item.Action, item.Visibility = broker.Extend, d
	default:
		s.writeError(w, r, fmt.Errorf("%w: unknown action %q", errNotFound, action))
		return
	}
	res, err := s.cons.Settle(r.Context(), q, []broker.SettleItem{item})
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("delivery %s: %w", id, err))
		return
	}
	if item.Action == broker.Extend {
		s.streams.settled(q, id, res[0].LeaseExpires.UnixNano())
		writeJSON(w, http.StatusOK, map[string]string{"leaseExpiresAt": rfc3339Time(res[0].LeaseExpires)})
		return
	}
	s.streams.settled(q, id, 0)
	w.WriteHeader(http.StatusNoContent)
}

type leaseBody struct {
	Max        *int   `json:"max"`
	Wait       string `json:"wait"`
	Visibility string `json:"visibility"`
	AutoAck    bool   `json:"autoAck"`
}

// handleLease: POST /v1/queues/{q}/lease — batch lease.
func (s *Server) handleLease(w http.ResponseWriter, r *http.Request, q string) {
	var body leaseBody
	if err := decodeJSON(r, &body, true); err != nil {
		s.writeError(w, r, err)
		return
	}
	autoAck, err := queryBool(r, "autoAck")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	opt := broker.LeaseOptions{Max: 1, AutoAck: body.AutoAck || autoAck}
	if body.Max != nil {
		if *body.Max < 1 || *body.Max > maxLeaseBatch {
			s.writeError(w, r, badRequest("max: %d is outside 1..%d", *body.Max, maxLeaseBatch))
			return
		}
		opt.Max = *body.Max
	}
	if body.Wait != "" {
		if opt.Wait, err = parseDuration("wait", body.Wait, 0, maxWait); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if body.Visibility != "" {
		if opt.Visibility, err = parseDuration("visibility", body.Visibility, minVisibility, maxVisibility); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	ds, err := s.lease(r, q, opt)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("queue %q: %w", q, err))
		return
	}
	out := struct {
		Messages []envelopeJSON `json:"messages"`
	}{Messages: make([]envelopeJSON, 0, len(ds))}
	for _, d := range ds {
		out.Messages = append(out.Messages, s.envelope(d))
	}
	writeJSON(w, http.StatusOK, out)
}

type settleBody struct {
	Ack  []string `json:"ack"`
	Nack []struct {
		DeliveryID string `json:"deliveryId"`
		Delay      string `json:"delay"`
		Reason     string `json:"reason"`
	} `json:"nack"`
	Reject []struct {
		DeliveryID string `json:"deliveryId"`
		Reason     string `json:"reason"`
	} `json:"reject"`
}

// handleSettle: POST /v1/queues/{q}/settle — batch settle with a status
// per item.
func (s *Server) handleSettle(w http.ResponseWriter, r *http.Request, q string) {
	var body settleBody
	if err := decodeJSON(r, &body, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	var items []broker.SettleItem
	for _, id := range body.Ack {
		items = append(items, broker.SettleItem{DeliveryID: id, Action: broker.Ack})
	}
	for i, n := range body.Nack {
		it := broker.SettleItem{DeliveryID: n.DeliveryID, Action: broker.Nack, Reason: n.Reason}
		if err := checkReason(fmt.Sprintf("nack[%d].reason", i), n.Reason); err != nil {
			s.writeError(w, r, err)
			return
		}
		if n.Delay != "" {
			d, err := parseDuration(fmt.Sprintf("nack[%d].delay", i), n.Delay, 0, maxNackDelay)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			it.HasDelay, it.Delay = true, d
		}
		items = append(items, it)
	}
	for i, rj := range body.Reject {
		if err := checkReason(fmt.Sprintf("reject[%d].reason", i), rj.Reason); err != nil {
			s.writeError(w, r, err)
			return
		}
		items = append(items, broker.SettleItem{DeliveryID: rj.DeliveryID, Action: broker.Reject, Reason: rj.Reason})
	}
	if len(items) > maxLeaseBatch {
		s.writeError(w, r, badRequest("at most %d items per settle", maxLeaseBatch))
		return
	}
	res, err := s.cons.Settle(r.Context(), q, items)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("queue %q: %w", q, err))
		return
	}
	type result struct {
		DeliveryID string `json:"deliveryId"`
		Status     string `json:"status"`
	}
	out := struct {
		Results []result `json:"results"`
	}{Results: make([]result, 0, len(res))}
	s.noteSettled(q, items, res)
	for _, it := range res {
		status := "ok"
		if it.Err != nil {
			_, status = classify(it.Err)
		}
		out.Results = append(out.Results, result{DeliveryID: it.DeliveryID, Status: status})
	}
	writeJSON(w, http.StatusOK, out)
}

// asciiJSON marshals v as one line of JSON with every character outside
// printable ASCII escaped as \uXXXX (json.Marshal escapes the other
// controls): safe in an HTTP header (X-Hookq-Meta) and decoded the same
// whatever charset a client assumes for an SSE stream.
func asciiJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	i := 0
	for i < len(b) && b[i] < 0x7f {
		i++
	}
	if i == len(b) {
		return b, nil
	}
	out := make([]byte, 0, len(b)+32)
	out = append(out, b[:i]...)
	// json.Marshal writes valid UTF-8, and non-ASCII only inside strings.
	for _, c := range string(b[i:]) {
		switch {
		case c < 0x7f:
			out = append(out, byte(c)) // #nosec G115 -- c < 0x7f in this case
		case c > 0xFFFF:
			r1, r2 := utf16.EncodeRune(c)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, c)
		}
	}
	return out, nil
}

// lease leases for the caller of r. A long-poll watches the caller's token
// while it waits and ends with 401 once the token is deleted (or loses the
// scope), as an open stream does.
func (s *Server) lease(r *http.Request, q string, opt broker.LeaseOptions) ([]broker.Delivery, error) {
	if opt.Wait <= 0 {
		return s.cons.Lease(r.Context(), q, opt)
	}
	p, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	ctx, stop := s.watchPrincipal(r.Context(), p, "consume", q)
	defer stop()
	ds, err := s.cons.Lease(ctx, q, opt)
	if len(ds) == 0 && errors.Is(context.Cause(ctx), errRevoked) {
		return nil, errRevoked
	}
	return ds, err
}
