// Command sse-consumer is a minimal hookq SSE consumer: it reads
// GET /v1/queues/{q}/stream, processes each "message" event, acks it via
// its ackUrl, rejects it (to the dead-letter queue) when it can never be
// processed, such as a JSON content type with a body that is not JSON,
// nacks it on any other error, and reconnects with exponential backoff
// when the stream drops. SIGINT or SIGTERM stops it after the message in
// hand is settled. Standard library only.
//
//	go run ./examples/sse-consumer -url http://127.0.0.1:8080 -token dev -queue demo
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// envelope is one SSE message's data.
type envelope struct {
	Payload     string `json:"payload"`
	Encoding    string `json:"encoding"` // utf8 | base64
	ContentType string `json:"contentType"`
	Meta        struct {
		MessageID string `json:"messageId"`
		Attempt   int    `json:"attempt"`
		AckURL    string `json:"ackUrl"`
		NackURL   string `json:"nackUrl"`
		RejectURL string `json:"rejectUrl"`
	} `json:"meta"`
}

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "hookq base URL")
	token := flag.String("token", os.Getenv("HOOKQ_TOKEN"), "bearer token with consume scope (default $HOOKQ_TOKEN)")
	queue := flag.String("queue", "demo", "queue to consume")
	maxInFlight := flag.Int("max-in-flight", 16, "unsettled deliveries the server may send ahead")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streamURL := fmt.Sprintf("%s/v1/queues/%s/stream?maxInFlight=%d", strings.TrimRight(*base, "/"), url.PathEscape(*queue), *maxInFlight)
	c := &consumer{token: *token, settle: &http.Client{Timeout: 30 * time.Second}}
	backoff := time.Second
	for ctx.Err() == nil {
		start := time.Now()
		err := c.stream(ctx, streamURL)
		if ctx.Err() != nil {
			log.Print("stopped")
			return
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second // it was a healthy stream: reconnect quickly
		}
		log.Printf("stream ended: %v (reconnecting in %v)", err, backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

type consumer struct {
	token  string
	settle *http.Client
}

// stream reads one connection's events until it ends.
func (c *consumer) stream(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req) // no timeout: the server sends keep-alives
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	log.Printf("connected to %s", u)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 8<<20) // one data line holds a whole envelope
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "": // end of an event
			c.dispatch(ctx, event, data)
			event, data = "", ""
		case strings.HasPrefix(line, ":"): // comment
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.EOF
}

func (c *consumer) dispatch(ctx context.Context, event, data string) {
	switch event {
	case "message":
		var env envelope
		if err := json.Unmarshal([]byte(data), &env); err != nil {
			log.Printf("bad envelope: %v", err)
			return // never acked: redelivered after its visibility timeout
		}
		c.handle(ctx, env)
	case "error":
		log.Printf("server error: %s", data)
	}
	// "keep-alive" needs nothing.
}

func (c *consumer) handle(ctx context.Context, env envelope) {
	body := []byte(env.Payload)
	if env.Encoding == "base64" {
		b, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			log.Printf("message %s: bad base64: %v", env.Meta.MessageID, err)
			return
		}
		body = b
	}
	action, reason := env.Meta.AckURL, ""
	if err := process(env, body); err != nil {
		b, _ := json.Marshal(map[string]string{"reason": err.Error()})
		action, reason = env.Meta.NackURL, string(b)
		if errors.Is(err, errPermanent) {
			log.Printf("message %s: %v; rejecting", env.Meta.MessageID, err)
			action = env.Meta.RejectURL
		} else {
			log.Printf("message %s attempt %d failed: %v; nacking", env.Meta.MessageID, env.Meta.Attempt, err)
		}
	}
	// Settling frees this stream's slot: the server then sends the next
	// message. The message in hand is settled even when a signal arrives.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, "POST", action, strings.NewReader(reason))
	if err != nil {
		log.Print(err)
		return
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.settle.Do(req)
	if err != nil {
		log.Printf("settle %s: %v", env.Meta.MessageID, err)
		return
	}
	resp.Body.Close() // #nosec G104 -- a settle answers 204 with no body; only the status matters
	if resp.StatusCode != http.StatusNoContent {
		log.Printf("settle %s: %s", env.Meta.MessageID, resp.Status) // 409: the lease had already ended
	}
}

// errPermanent marks a message no retry can fix: it is rejected, not
// nacked.
var errPermanent = errors.New("permanent")

// process is where the work goes. An error wrapping errPermanent means
// "never", any other "try again later".
func process(env envelope, body []byte) error {
	if strings.Contains(env.ContentType, "json") && !json.Valid(body) {
		return fmt.Errorf("%w: invalid JSON body", errPermanent)
	}
	log.Printf("message %s (attempt %d, %s): %s", env.Meta.MessageID, env.Meta.Attempt, env.ContentType, body)
	return nil
}
