// Command rest-poller is a minimal hookq REST consumer: it long-polls
// GET /v1/queues/{q}/next?wait=20s, processes each message, acks it on
// success, rejects it (to the dead-letter queue) when it can never be
// processed, such as a JSON content type with a body that is not JSON,
// and nacks it (redelivery with the queue's backoff) on any other error.
// SIGINT or SIGTERM stops it after the message in hand is settled.
// Standard library only.
//
//	go run ./examples/rest-poller -url http://127.0.0.1:8080 -token dev -queue demo
package main

import (
	"context"
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

// meta is the part of X-Hookq-Meta this consumer uses.
type meta struct {
	MessageID string `json:"messageId"`
	Attempt   int    `json:"attempt"`
	AckURL    string `json:"ackUrl"`
	NackURL   string `json:"nackUrl"`
	RejectURL string `json:"rejectUrl"`
}

// errPermanent marks a message no retry can fix: it is rejected, not
// nacked.
var errPermanent = errors.New("permanent")

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "hookq base URL")
	token := flag.String("token", os.Getenv("HOOKQ_TOKEN"), "bearer token with consume scope (default $HOOKQ_TOKEN)")
	queue := flag.String("queue", "demo", "queue to consume")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &consumer{http: &http.Client{Timeout: 30 * time.Second}, token: *token,
		next: strings.TrimRight(*base, "/") + "/v1/queues/" + url.PathEscape(*queue) + "/next?wait=20s"}
	backoff := time.Second
	for ctx.Err() == nil {
		if err := c.once(ctx); err != nil {
			log.Printf("poll: %v (retrying in %v)", err, backoff)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
	}
	log.Print("stopped")
}

type consumer struct {
	http  *http.Client
	token string
	next  string
}

// once fetches at most one message and settles it.
func (c *consumer) once(ctx context.Context) error {
	resp, err := c.do(ctx, "GET", c.next, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil // nothing within wait: poll again
	case http.StatusOK:
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("next: %s: %s", resp.Status, b)
	}
	var m meta
	if err := json.Unmarshal([]byte(resp.Header.Get("X-Hookq-Meta")), &m); err != nil {
		return fmt.Errorf("X-Hookq-Meta: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading message %s: %w", m.MessageID, err)
	}
	// The message in hand is settled even when a signal arrives meanwhile.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := process(m, resp.Header.Get("Content-Type"), body); err != nil {
		reason, _ := json.Marshal(map[string]string{"reason": err.Error()})
		if errors.Is(err, errPermanent) {
			log.Printf("message %s: %v; rejecting", m.MessageID, err)
			return c.settle(sctx, m.RejectURL, string(reason))
		}
		log.Printf("message %s attempt %d failed: %v; nacking", m.MessageID, m.Attempt, err)
		return c.settle(sctx, m.NackURL, string(reason))
	}
	return c.settle(sctx, m.AckURL, "")
}

// process is where the work goes. An error wrapping errPermanent means
// "never", any other "try again later".
func process(m meta, contentType string, body []byte) error {
	if strings.Contains(contentType, "json") && !json.Valid(body) {
		return fmt.Errorf("%w: invalid JSON body", errPermanent)
	}
	log.Printf("message %s (attempt %d, %s): %s", m.MessageID, m.Attempt, contentType, body)
	return nil
}

// settle POSTs an action URL from the meta. 409 means the lease already
// ended (expired or settled elsewhere): the message will be redelivered.
func (c *consumer) settle(ctx context.Context, actionURL, body string) error {
	resp, err := c.do(ctx, "POST", actionURL, strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent:
		return nil
	case http.StatusConflict:
		log.Printf("%s: lease already ended", actionURL)
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("POST %s: %s: %s", actionURL, resp.Status, b)
}

func (c *consumer) do(ctx context.Context, method, u string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.http.Do(req)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
