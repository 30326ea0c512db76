package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"
)

// restCall POSTs body as JSON to path and decodes a 2xx answer into out
// (when out is not nil).
func (c *Client) restCall(ctx context.Context, op, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("hookq %s: encoding request: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, rd)
	if err != nil {
		return fmt.Errorf("hookq %s: %w", op, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(op, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fromHTTP(op, resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return transportError(op, fmt.Errorf("decoding answer: %w", err))
	}
	return nil
}

func queuePath(queue string) string { return "/v1/queues/" + url.PathEscape(queue) }

type restMessage struct {
	Payload     string            `json:"payload"`
	Encoding    string            `json:"encoding"`
	ContentType string            `json:"contentType,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	EventID     string            `json:"eventId,omitempty"`
}

func (c *Client) restPublish(ctx context.Context, queue string, msgs []Message) ([]string, error) {
	req := struct {
		Messages []restMessage `json:"messages"`
	}{Messages: make([]restMessage, len(msgs))}
	for i, m := range msgs {
		rm := restMessage{ContentType: m.ContentType, Headers: m.Headers, EventID: m.EventID}
		rm.Payload, rm.Encoding = encodePayload(m.Body)
		req.Messages[i] = rm
	}
	var resp struct {
		MessageIDs []string `json:"messageIds"`
	}
	if err := c.restCall(ctx, "publish", queuePath(queue)+"/publish", req, &resp); err != nil {
		return nil, err
	}
	return resp.MessageIDs, nil
}

// encodePayload is b as a publish payload: text when it is valid UTF-8
// and its JSON string is no longer than base64 would be, else base64 (a
// body of characters JSON escapes as six bytes, NUL or '<', would
// otherwise overrun the server's JSON body limit well within the body
// bound).
func encodePayload(b []byte) (payload, encoding string) {
	if utf8.Valid(b) && jsonStringLen(b) <= base64.StdEncoding.EncodedLen(len(b)) {
		return string(b), "utf8"
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

// jsonStringLen is the length of valid UTF-8 b as encoding/json writes it
// in a string, quotes left out.
func jsonStringLen(b []byte) int {
	n := 0
	for _, r := range string(b) {
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
			n += 2
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += utf8.RuneLen(r)
		}
	}
	return n
}

type restEnvelope struct {
	Payload     string `json:"payload"`
	Encoding    string `json:"encoding"`
	ContentType string `json:"contentType"`
	Meta        struct {
		MessageID      string            `json:"messageId"`
		DeliveryID     string            `json:"deliveryId"`
		Queue          string            `json:"queue"`
		Source         string            `json:"source"`
		Attempt        int               `json:"attempt"`
		ReceivedAt     time.Time         `json:"receivedAt"`
		LeaseExpiresAt time.Time         `json:"leaseExpiresAt"`
		EventID        string            `json:"eventId"`
		ReplayOf       string            `json:"replayOf"`
		Headers        map[string]string `json:"headers"`
		DeadLetter     *struct {
			OriginQueue string    `json:"originQueue"`
			Reason      string    `json:"reason"`
			Attempts    int       `json:"attempts"`
			DeadAt      time.Time `json:"deadAt"`
		} `json:"deadLetter"`
	} `json:"meta"`
}

func (e restEnvelope) delivery() (Delivery, error) {
	d := Delivery{Payload: []byte(e.Payload), ContentType: e.ContentType, Meta: Meta{
		MessageID: e.Meta.MessageID, DeliveryID: e.Meta.DeliveryID, Queue: e.Meta.Queue, Source: e.Meta.Source,
		Attempt: e.Meta.Attempt, ReceivedAt: e.Meta.ReceivedAt, LeaseExpiresAt: e.Meta.LeaseExpiresAt,
		EventID: e.Meta.EventID, ReplayOf: e.Meta.ReplayOf, Headers: e.Meta.Headers,
	}}
	if e.Encoding == "base64" {
		b, err := base64.StdEncoding.DecodeString(e.Payload)
		if err != nil {
			return Delivery{}, fmt.Errorf("delivery %s: payload: %w", e.Meta.DeliveryID, err)
		}
		d.Payload = b
	}
	if dl := e.Meta.DeadLetter; dl != nil {
		d.Meta.DeadLetter = &DeadLetter{OriginQueue: dl.OriginQueue, Reason: dl.Reason, Attempts: dl.Attempts, DeadAt: dl.DeadAt}
	}
	if d.Meta.Headers == nil {
		d.Meta.Headers = map[string]string{}
	}
	return d, nil
}

func (c *Client) restLease(ctx context.Context, queue string, opts LeaseOptions) ([]Delivery, error) {
	req := map[string]any{}
	if opts.Max > 0 {
		req["max"] = opts.Max
	}
	if opts.Wait > 0 {
		req["wait"] = opts.Wait.String()
	}
	if opts.Visibility > 0 {
		req["visibility"] = opts.Visibility.String()
	}
	var resp struct {
		Messages []restEnvelope `json:"messages"`
	}
	if err := c.restCall(ctx, "lease", queuePath(queue)+"/lease", req, &resp); err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(resp.Messages))
	for _, e := range resp.Messages {
		d, err := e.delivery()
		if err != nil {
			return out, transportError("lease", err)
		}
		out = append(out, d)
	}
	return out, nil
}

type restNackItem struct {
	DeliveryID string `json:"deliveryId,omitempty"`
	Delay      string `json:"delay,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

type restRejectItem struct {
	DeliveryID string `json:"deliveryId,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

func restDelay(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d < 0:
		return "0s"
	}
	return d.String()
}

func restNack(delay time.Duration, reason string) restNackItem {
	return restNackItem{Delay: restDelay(delay), Reason: reason}
}

func restReject(reason string) restRejectItem { return restRejectItem{Reason: reason} }

// restAction POSTs one delivery action (ack, nack, reject, extend).
func (c *Client) restAction(ctx context.Context, queue, deliveryID, action string, body, out any) error {
	return c.restCall(ctx, action, queuePath(queue)+"/deliveries/"+url.PathEscape(deliveryID)+"/"+action, body, out)
}

func (c *Client) restSettle(ctx context.Context, queue string, s Settlement) ([]SettleResult, error) {
	var out []SettleResult
	if n := len(s.Acks) + len(s.Nacks) + len(s.Rejects); n > 0 {
		req := struct {
			Ack    []string         `json:"ack,omitempty"`
			Nack   []restNackItem   `json:"nack,omitempty"`
			Reject []restRejectItem `json:"reject,omitempty"`
		}{Ack: s.Acks}
		for _, n := range s.Nacks {
			req.Nack = append(req.Nack, restNackItem{DeliveryID: n.DeliveryID, Delay: restDelay(n.Delay), Reason: n.Reason})
		}
		for _, r := range s.Rejects {
			req.Reject = append(req.Reject, restRejectItem(r))
		}
		var resp struct {
			Results []struct {
				DeliveryID string `json:"deliveryId"`
				Status     string `json:"status"`
			} `json:"results"`
		}
		if err := c.restCall(ctx, "settle", queuePath(queue)+"/settle", req, &resp); err != nil {
			return nil, err
		}
		for _, r := range resp.Results {
			out = append(out, SettleResult{DeliveryID: r.DeliveryID, Status: SettleStatus(r.Status)})
		}
	}
	// The HTTP API has no batch extend: one call per item, stale items
	// reported as results like the others.
	for _, x := range s.Extends {
		err := c.Extend(ctx, queue, x.DeliveryID, x.Visibility)
		switch {
		case err == nil:
			out = append(out, SettleResult{DeliveryID: x.DeliveryID, Status: SettleOK})
		case IsLeaseExpired(err):
			out = append(out, SettleResult{DeliveryID: x.DeliveryID, Status: SettleLeaseExpired})
		case IsNotFound(err):
			out = append(out, SettleResult{DeliveryID: x.DeliveryID, Status: SettleNotFound})
		default:
			return out, err
		}
	}
	return out, nil
}
