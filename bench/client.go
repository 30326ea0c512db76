package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// newHTTPClient keeps up to conns connections open to each host, so every
// worker reuses its own connection. timeout 0 means none (SSE streams).
func newHTTPClient(conns int, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConns = 2 * conns
	tr.MaxIdleConnsPerHost = 2 * conns
	tr.DisableCompression = true
	return &http.Client{Transport: tr, Timeout: timeout}
}

// closeIdle closes the idle connections of c.
func closeIdle(c *http.Client) { c.CloseIdleConnections() }

// statusError is a non-2xx answer, with the API error code when the body
// had one (docs/API.md §2.6).
type statusError struct {
	Status int
	Code   string
}

func (e *statusError) Error() string {
	if e.Code == "" {
		return "HTTP " + strconv.Itoa(e.Status)
	}
	return "HTTP " + strconv.Itoa(e.Status) + " " + e.Code
}

// errorKind names err for a report's error counts: "503 queue_full",
// "grpc Unavailable", "transport", …
func errorKind(err error) string {
	if se, ok := errors.AsType[*statusError](err); ok {
		return strings.TrimPrefix(se.Error(), "HTTP ")
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return "grpc " + st.Code().String()
	}
	return "transport"
}

func readStatusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &eb)
	return &statusError{Status: resp.StatusCode, Code: eb.Error.Code}
}

// call sends a JSON request (in may be nil) with the bearer token and
// decodes a 2xx JSON answer into out (which may be nil). The body is always
// read to the end, so the connection is reused.
func call(ctx context.Context, c *http.Client, method, url, token string, in, out any) error {
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, url, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readStatusError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

func base(u string) string { return strings.TrimRight(u, "/") }

// Setup creates (or replaces) t.Queue with default settings and t.Source
// feeding it, verified as provider with secret, through t.URL with an
// admin token.
func Setup(ctx context.Context, t Target, provider, secret string) error {
	c := newHTTPClient(1, 30*time.Second)
	defer closeIdle(c)
	if err := call(ctx, c, http.MethodPut, base(t.URL)+"/v1/queues/"+t.Queue, t.Token, map[string]any{}, nil); err != nil {
		return fmt.Errorf("setup: queue %s: %w", t.Queue, err)
	}
	verify := map[string]any{"type": provider}
	if secret != "" {
		verify["secrets"] = []string{secret}
	}
	src := map[string]any{"queues": []string{t.Queue}, "verify": verify}
	if err := call(ctx, c, http.MethodPut, base(t.URL)+"/v1/sources/"+t.Source, t.Token, src, nil); err != nil {
		return fmt.Errorf("setup: source %s: %w", t.Source, err)
	}
	return nil
}

// QueueStats are the counters of GET /v1/queues/{q} (docs/API.md §7.1).
type QueueStats struct {
	Ready        int64 `json:"ready"`
	Inflight     int64 `json:"inflight"`
	Delayed      int64 `json:"delayed"`
	Acked        int64 `json:"acked"`
	Enqueued     int64 `json:"enqueued"`
	Delivered    int64 `json:"delivered"`
	DeadLettered int64 `json:"deadLettered"`
}

func (q *QueueStats) add(o QueueStats) {
	q.Ready += o.Ready
	q.Inflight += o.Inflight
	q.Delayed += o.Delayed
	q.Acked += o.Acked
	q.Enqueued += o.Enqueued
	q.Delivered += o.Delivered
	q.DeadLettered += o.DeadLettered
}

// GetQueueStats reads t.Queue's stats (token: admin or read:<queue>).
func GetQueueStats(ctx context.Context, t Target) (QueueStats, error) {
	c := newHTTPClient(1, 30*time.Second)
	defer closeIdle(c)
	var q struct {
		Stats QueueStats `json:"stats"`
	}
	if err := call(ctx, c, http.MethodGet, base(t.URL)+"/v1/queues/"+t.Queue, t.Token, nil, &q); err != nil {
		return QueueStats{}, fmt.Errorf("queue %s stats: %w", t.Queue, err)
	}
	return q.Stats, nil
}

// clusterView is GET /v1/cluster (docs/API.md §7.8).
type clusterView struct {
	Leader string `json:"leader"`
	Nodes  []struct {
		ID       string `json:"id"`
		HTTPAddr string `json:"httpAddr"`
	} `json:"nodes"`
}
