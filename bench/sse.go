package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// delivery is one message read from a stream.
type delivery struct {
	id string
	at time.Time
}

// errStreamEnded is a stream the server closed without an error event.
var errStreamEnded = errors.New("stream ended")

// sseWorker keeps one stream open (reconnecting after errors) until the
// consumer stops.
func (c *consumer) sseWorker(ctx context.Context) {
	for !c.stopped() && ctx.Err() == nil {
		t0 := c.clk.Now()
		if err := c.stream(ctx); err != nil && !c.stopped() && ctx.Err() == nil {
			c.log.Debug("stream failed", "err", err)
			c.rec.Error(t0, c.clk.Now(), "stream "+errorKind(err))
			c.pause(ctx)
		}
	}
}

// stream reads one SSE stream of the queue and settles what it delivers in
// batches of up to cfg.Batch: whatever has arrived when the previous
// settle call returns. On a stop it closes the stream and settles every
// delivery it has read.
func (c *consumer) stream(ctx context.Context) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u := c.qurl + "/stream?maxInFlight=" + strconv.Itoa(c.cfg.MaxInFlight)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.streams.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readStatusError(resp)
	}
	// The server holds at most MaxInFlight unsettled deliveries, and a
	// delivery leaves pending before it is settled, so pending never fills.
	pending := make(chan delivery, c.cfg.MaxInFlight+1)
	readErr := make(chan error, 1)
	go func() { readErr <- c.readEvents(sctx, resp.Body, pending) }()

	return c.settleStream(ctx, cancel, pending, readErr)
}

// settleStream settles what a stream's reader puts in pending, in batches
// of up to cfg.Batch: whatever has arrived when the previous settle call
// returns. On a stop it cancels the stream (cancel), waits for the reader
// (readErr) and settles every delivery it read; when the reader ends first
// it settles what is left and returns the reader's error.
func (c *consumer) settleStream(ctx context.Context, cancel context.CancelFunc, pending <-chan delivery, readErr <-chan error) error {
	batch := func(first delivery) []string {
		ids := []string{first.id}
		for len(ids) < c.cfg.Batch {
			select {
			case d := <-pending:
				ids = append(ids, d.id)
			default:
				return ids
			}
		}
		return ids
	}
	drain := func() {
		for {
			select {
			case d := <-pending:
				c.settle(ctx, c.qurl, d.at, batch(d))
			default:
				return
			}
		}
	}
	for {
		select {
		case d := <-pending:
			c.settle(ctx, c.qurl, d.at, batch(d))
		case <-c.stop:
			cancel()
			<-readErr
			drain()
			return nil
		case err := <-readErr:
			drain()
			return err
		}
	}
}

// readEvents parses server-sent events (docs/API.md §6.7) from r and
// sends each message's delivery to pending, until the stream ends, an
// error event arrives, or ctx ends.
func (c *consumer) readEvents(ctx context.Context, r io.Reader, pending chan<- delivery) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var event, id string
	var data []byte
	for {
		line, err := readLine(br)
		if err != nil {
			if err == io.EOF {
				return errStreamEnded
			}
			return err
		}
		if len(line) > 0 {
			k, v, _ := bytes.Cut(line, []byte(":"))
			v = bytes.TrimPrefix(v, []byte(" "))
			switch string(k) {
			case "event":
				event = string(v)
			case "id":
				id = string(v)
			case "data":
				data = append(data[:0], v...)
			}
			continue
		}
		// A blank line ends an event.
		switch event {
		case "message":
			at := c.clk.Now()
			var e envelope
			if err := json.Unmarshal(data, &e); err != nil {
				return fmt.Errorf("stream: message %s: %w", id, err)
			}
			if e.Meta.DeliveryID == "" {
				e.Meta.DeliveryID = id
			}
			c.received(&e, at)
			select {
			case pending <- delivery{id: e.Meta.DeliveryID, at: at}:
			case <-ctx.Done():
				return ctx.Err()
			}
		case "error":
			var eb struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			_ = json.Unmarshal(data, &eb)
			return &statusError{Status: http.StatusOK, Code: "event " + eb.Error.Code}
		}
		event, id, data = "", "", data[:0]
	}
}

// readLine returns the next line without its line ending, however long.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = br.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = nil
		} else {
			return nil, err
		}
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}
