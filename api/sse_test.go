package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"go.uber.org/goleak"
)

// sseFrame is one server-sent event.
type sseFrame struct {
	event, id, data string
	dataLines       int
}

// sseClient is an open stream read by a goroutine into frames. It has its
// own transport so closing it leaves no connection behind.
type sseClient struct {
	t      testing.TB
	resp   *http.Response
	frames chan sseFrame
	cancel context.CancelFunc
	tr     *http.Transport
	once   sync.Once
}

// openStream opens GET /v1/queues/{q}/stream?query; the response headers
// must arrive at once, before any message.
func (e *env) openStream(q, query string) *sseClient {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/queues/"+q+"/stream"+query, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Accept", "text/event-stream")
	c := &sseClient{t: e.t, frames: make(chan sseFrame, 256), cancel: cancel, tr: &http.Transport{}}
	timer := time.AfterFunc(5*time.Second, cancel) // headers must be flushed immediately
	c.resp, err = (&http.Client{Transport: c.tr}).Do(req)
	timer.Stop()
	if err != nil {
		cancel()
		e.t.Fatalf("open stream: %v", err)
	}
	e.t.Cleanup(c.close)
	if c.resp.StatusCode != http.StatusOK {
		e.t.Fatalf("stream status %d", c.resp.StatusCode)
	}
	if ct, cc := c.resp.Header.Get("Content-Type"), c.resp.Header.Get("Cache-Control"); ct != "text/event-stream" || cc != "no-store" {
		e.t.Fatalf("stream headers Content-Type %q Cache-Control %q", ct, cc)
	}
	go c.read(ctx)
	return c
}

func (c *sseClient) read(ctx context.Context) {
	defer close(c.frames)
	br := bufio.NewReader(c.resp.Body)
	var f sseFrame
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			select {
			case c.frames <- f:
			case <-ctx.Done():
				return
			}
			f = sseFrame{}
			continue
		}
		name, val, _ := strings.Cut(line, ":")
		val = strings.TrimPrefix(val, " ")
		switch name {
		case "event":
			f.event = val
		case "id":
			f.id = val
		case "data":
			if f.dataLines > 0 {
				f.data += "\n"
			}
			f.data += val
			f.dataLines++
		}
	}
}

// close disconnects like a client going away, and waits for the reader.
func (c *sseClient) close() {
	c.once.Do(func() {
		c.cancel()
		c.resp.Body.Close()
		for range c.frames {
		}
		c.tr.CloseIdleConnections()
	})
}

// frame waits up to timeout for the next frame of any kind.
func (c *sseClient) frame(timeout time.Duration) (sseFrame, bool) {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatal("stream closed")
		}
		return f, true
	case <-time.After(timeout):
		return sseFrame{}, false
	}
}

// message waits up to timeout for the next message frame (skipping
// keep-alives) and decodes its envelope.
func (c *sseClient) message(timeout time.Duration) consEnvelope {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f, ok := c.frame(time.Until(deadline))
		if !ok {
			c.t.Fatalf("no message frame within %v", timeout)
		}
		if f.event == "keep-alive" {
			continue
		}
		if f.event != "message" || f.dataLines != 1 {
			c.t.Fatalf("frame %+v, want a message with one data line", f)
		}
		for i := 0; i < len(f.data); i++ {
			if f.data[i] >= 0x80 {
				c.t.Fatalf("frame data is not ASCII: %q", f.data)
			}
		}
		var env consEnvelope
		if err := json.Unmarshal([]byte(f.data), &env); err != nil {
			c.t.Fatalf("frame data %q: %v", f.data, err)
		}
		if f.id == "" || f.id != env.Meta.DeliveryID {
			c.t.Fatalf("frame id %q, meta deliveryId %q", f.id, env.Meta.DeliveryID)
		}
		return env
	}
}

// noMessage asserts that no message frame arrives for d.
func (c *sseClient) noMessage(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		f, ok := c.frame(time.Until(deadline))
		if !ok {
			return
		}
		if f.event != "keep-alive" {
			c.t.Fatalf("unexpected frame %+v", f)
		}
	}
}

func TestStreamSendsOneFramePerMessage(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	st := e.openStream("q", "") // headers arrive on an empty queue
	binary := "\xff\x00raw"
	ids := []string{e.consPut("q", `{"text":"naïve ☃ 🎉"}`, "application/json"), e.consPut("q", binary, "")}
	a, b := st.message(5*time.Second), st.message(5*time.Second)
	if a.Meta.MessageID != ids[0] || a.Payload != `{"text":"naïve ☃ 🎉"}` || a.Encoding != "utf8" || a.ContentType != "application/json" {
		t.Fatalf("first envelope %+v", a)
	}
	if b.Meta.MessageID != ids[1] || b.Encoding != "base64" || b.Meta.AckURL != e.srv.URL+consPath("q", b.Meta.DeliveryID, "ack") {
		t.Fatalf("second envelope %+v", b)
	}
	if s := e.consStats("q"); s.Inflight != 2 || s.Delivered != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStreamRespectsMaxInFlightUntilASettleFreesASlot(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	for range 5 {
		e.consPut("q", "m", "text/plain")
	}
	api.SetStreamTiming(e.api, time.Minute, time.Minute) // only the ack can free the slot
	st := e.openStream("q", "?maxInFlight=2")
	first := st.message(5 * time.Second)
	st.message(5 * time.Second)
	st.noMessage(400 * time.Millisecond)
	e.consWaitStats("q", time.Second, func(s broker.Stats) bool { return s.Inflight == 2 && s.Ready == 3 })

	if resp, body := e.do("POST", first.Meta.AckURL, adminToken, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("ack: %d %s", resp.StatusCode, body)
	}
	st.message(5 * time.Second)
	st.noMessage(400 * time.Millisecond)
	if s := e.consStats("q"); s.Inflight != 2 || s.Ready != 2 || s.Acked != 1 {
		t.Fatalf("stats after one ack: %+v", s)
	}
}

// TestStreamLearnsOfEverySettlement: with maxInFlight=1 the second message
// arrives only once the stream knows the first delivery is settled, by
// whichever path.
func TestStreamLearnsOfEverySettlement(t *testing.T) {
	settleThrough := func(e *env, m metaT, how string) {
		e.t.Helper()
		var resp *http.Response
		var body []byte
		switch how {
		case "ack":
			resp, body = e.do("POST", m.AckURL, adminToken, nil)
		case "nack":
			resp, body = e.do("POST", m.NackURL, adminToken, `{"delay":"1h"}`)
		case "reject":
			resp, body = e.do("POST", m.RejectURL, adminToken, nil)
		case "batch-ack":
			e.consSettle("q", map[string]any{"ack": []string{m.DeliveryID}})
			return
		case "batch-nack":
			e.consSettle("q", map[string]any{"nack": []map[string]string{{"deliveryId": m.DeliveryID, "delay": "1h"}}})
			return
		case "broker":
			// Not through this Server (as gRPC or another node would).
			res, err := e.b.Settle(context.Background(), "q", []broker.SettleItem{{DeliveryID: m.DeliveryID, Action: broker.Ack}})
			if err != nil || res[0].Err != nil {
				e.t.Fatalf("broker settle: %v %v", err, res)
			}
			return
		case "expiry":
			return // visibility=1s runs out
		}
		if resp.StatusCode != http.StatusNoContent {
			e.t.Fatalf("%s: %d %s", how, resp.StatusCode, body)
		}
	}
	for _, how := range []string{"ack", "nack", "reject", "batch-ack", "batch-nack", "broker", "expiry"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t)
			// Only a settlement this Server never sees needs the re-check;
			// every other path must free the slot without it.
			recheck := time.Minute
			if how == "broker" {
				recheck = 100 * time.Millisecond
			}
			api.SetStreamTiming(e.api, time.Minute, recheck)
			e.queue("q")
			e.consPut("q", "one", "text/plain")
			second := e.consPut("q", "two", "text/plain")
			query := "?maxInFlight=1"
			if how == "expiry" {
				query += "&visibility=1s"
			}
			st := e.openStream("q", query)
			first := st.message(5 * time.Second)
			if how != "expiry" {
				st.noMessage(300 * time.Millisecond)
			}
			settleThrough(e, first.Meta, how)
			if got := st.message(5 * time.Second); got.Meta.MessageID != second {
				t.Fatalf("after %s got %+v, want message %s", how, got.Meta, second)
			}
		})
	}
}

// TestStreamExtendKeepsTheSlot: an extended delivery keeps its slot past
// its first lease end, whether extended through this Server or not.
func TestStreamExtendKeepsTheSlot(t *testing.T) {
	for _, via := range []string{"rest", "broker"} {
		t.Run(via, func(t *testing.T) {
			e := newEnv(t)
			api.SetStreamTiming(e.api, time.Minute, time.Minute)
			e.queue("q")
			e.consPut("q", "one", "text/plain")
			e.consPut("q", "two", "text/plain")
			st := e.openStream("q", "?maxInFlight=1&visibility=1s")
			first := st.message(5 * time.Second)
			if via == "rest" {
				if resp, body := e.do("POST", first.Meta.ExtendURL, adminToken, `{"visibility":"30s"}`); resp.StatusCode != http.StatusOK {
					t.Fatalf("extend: %d %s", resp.StatusCode, body)
				}
			} else {
				it := broker.SettleItem{DeliveryID: first.Meta.DeliveryID, Action: broker.Extend, Visibility: 30 * time.Second}
				if res, err := e.b.Settle(context.Background(), "q", []broker.SettleItem{it}); err != nil || res[0].Err != nil {
					t.Fatalf("broker extend: %v %v", err, res)
				}
			}
			st.noMessage(1500 * time.Millisecond) // past the first lease end
			if s := e.consStats("q"); s.Inflight != 1 || s.Ready != 1 {
				t.Fatalf("stats %+v", s)
			}
			if resp, body := e.do("POST", first.Meta.AckURL, adminToken, nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("ack: %d %s", resp.StatusCode, body)
			}
			st.message(5 * time.Second)
		})
	}
}

func TestStreamSendsKeepAlivesAfterSilence(t *testing.T) {
	e := newEnv(t)
	const interval = 150 * time.Millisecond
	api.SetStreamTiming(e.api, interval, time.Minute)
	e.queue("q")
	opened := time.Now()
	st := e.openStream("q", "")
	for i := range 2 {
		f, ok := st.frame(5 * time.Second)
		if !ok || f.event != "keep-alive" || f.data != "{}" || f.id != "" || f.dataLines != 1 {
			t.Fatalf("frame %d: %+v %v, want a keep-alive", i, f, ok)
		}
		// The n-th keep-alive follows n intervals of silence.
		if since, want := time.Since(opened), time.Duration(i+1)*interval; since < want {
			t.Fatalf("keep-alive %d %v after opening, want >= %v", i, since, want)
		}
	}
	e.consPut("q", "m", "text/plain")
	if f, _ := st.frame(5 * time.Second); f.event != "message" {
		t.Fatalf("frame %+v, want the message", f)
	}
	if f, _ := st.frame(5 * time.Second); f.event != "keep-alive" {
		t.Fatalf("frame %+v, want a keep-alive after the message", f)
	}
}

func TestStreamAutoAckIsNotLimitedByMaxInFlight(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	for range 3 {
		e.consPut("q", "m", "text/plain")
	}
	st := e.openStream("q", "?maxInFlight=1&autoAck=true")
	for range 3 {
		st.message(5 * time.Second)
	}
	if s := e.consStats("q"); s.Acked != 3 || s.Inflight != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStreamEndsWithAnErrorFrameWhenItsQueueIsDeleted(t *testing.T) {
	e := newEnv(t)
	api.SetStreamTiming(e.api, 100*time.Millisecond, time.Minute)
	e.queue("q")
	st := e.openStream("q", "")
	if err := e.b.DeleteQueue(context.Background(), "q"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, ok := st.frame(time.Until(deadline))
		if !ok {
			t.Fatal("no error frame")
		}
		if f.event == "keep-alive" {
			continue
		}
		if f.event != "error" || errorCode(t, []byte(f.data)) != "not_found" {
			t.Fatalf("frame %+v", f)
		}
		break
	}
	select {
	case _, open := <-st.frames:
		if open {
			t.Fatal("frame after the error frame")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream still open after its error frame")
	}
}

func TestStreamErrorsComeBeforeTheStreamAndChangeNothing(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	e.consPut("q", "m", "text/plain")
	other := e.consToken("other", "consume:other")
	for _, tc := range []struct {
		name, path, token string
		status            int
		code              string
	}{
		{"unknown queue", "/v1/queues/nope/stream", adminToken, 404, "not_found"},
		{"maxInFlight 0", "/v1/queues/q/stream?maxInFlight=0", adminToken, 400, "bad_request"},
		{"maxInFlight over 1000", "/v1/queues/q/stream?maxInFlight=1001", adminToken, 400, "bad_request"},
		{"maxInFlight not a number", "/v1/queues/q/stream?maxInFlight=many", adminToken, 400, "bad_request"},
		{"visibility under 1s", "/v1/queues/q/stream?visibility=10ms", adminToken, 400, "bad_request"},
		{"visibility not a duration", "/v1/queues/q/stream?visibility=long", adminToken, 400, "bad_request"},
		{"autoAck not a bool", "/v1/queues/q/stream?autoAck=sure", adminToken, 400, "bad_request"},
		{"no token", "/v1/queues/q/stream", "", 401, "unauthenticated"},
		{"other queue's scope", "/v1/queues/q/stream", other, 403, "forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.consStats("q")
			resp, body := e.do("GET", tc.path, tc.token, nil)
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q, want a JSON error", ct)
			}
			expectError(t, resp, body, tc.status, tc.code)
			e.consUnchanged("q", before)
		})
	}
}

// TestStreamDisconnectLeaksNothingAndLeasesRunOut: a client that goes away
// mid-stream ends the handler (no goroutine left behind) and its unsettled
// deliveries are redelivered after their visibility timeout.
func TestStreamDisconnectLeaksNothingAndLeasesRunOut(t *testing.T) {
	e := newEnv(t)
	e.queue("q")
	for range 3 {
		e.consPut("q", "m", "text/plain")
	}
	// The broker, Raft and the test server are up: what runs now is theirs.
	ignore := goleak.IgnoreCurrent()

	st := e.openStream("q", "?maxInFlight=2&visibility=1s")
	sent := map[string]bool{}
	for range 2 {
		sent[st.message(5*time.Second).Meta.MessageID] = true
	}
	st.close()
	const pebble = "github.com/cockroachdb/pebble/v2"
	goleak.VerifyNone(t, ignore,
		// The store's own background work may start at any time.
		goleak.IgnoreAnyFunction(pebble+".(*DB).flush"),
		goleak.IgnoreAnyFunction(pebble+".(*DB).compact"),
		goleak.IgnoreAnyFunction(pebble+".(*DB).maybeScheduleDelayedFlush.func1"),
		goleak.IgnoreAnyFunction(pebble+".(*DB).collectTableStats"),
		goleak.IgnoreAnyFunction(pebble+"/sstable.(*writeQueue).runWorker"),
	)

	redelivered := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(redelivered) < 2 && time.Now().Before(deadline) {
		resp, body, m := e.consNext("q", "?wait=2s", adminToken)
		if resp.StatusCode != http.StatusOK {
			continue
		}
		switch {
		case sent[m.MessageID] && m.Attempt == 2:
			redelivered[m.MessageID] = true
		case !sent[m.MessageID] && m.Attempt == 1:
		default:
			t.Fatalf("unexpected delivery %+v (%q)", m, body)
		}
	}
	if len(redelivered) != 2 {
		t.Fatalf("redelivered %v of the stream's %v", redelivered, sent)
	}
}
