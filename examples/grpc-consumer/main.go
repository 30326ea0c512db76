// Command grpc-consumer is a small hookq consumer on the Go client
// (api/client) over gRPC: it runs a handler over a queue with a few
// handlers at once, acks what it processed, rejects (dead-letters) bodies
// that are not valid JSON, since no retry can fix them, and nacks other
// failures for redelivery with the queue's backoff. SIGINT or SIGTERM stop
// it: no new messages are taken and running handlers finish first.
//
//	go run ./examples/grpc-consumer -addr 127.0.0.1:9090 -token dev -queue demo
//
// Every flag also reads an environment variable: HOOKQ_GRPC_ADDR
// (comma-separated for several nodes), HOOKQ_TOKEN, HOOKQ_QUEUE,
// HOOKQ_CA_FILE.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hookq/hookq/api/client"
)

func main() {
	addr := flag.String("addr", envOr("HOOKQ_GRPC_ADDR", "127.0.0.1:9090"), "hookq gRPC address(es), comma-separated; the client fails over between them (env HOOKQ_GRPC_ADDR)")
	token := flag.String("token", os.Getenv("HOOKQ_TOKEN"), "bearer token with the consume:<queue> scope (env HOOKQ_TOKEN)")
	queue := flag.String("queue", envOr("HOOKQ_QUEUE", "demo"), "queue to consume (env HOOKQ_QUEUE)")
	caFile := flag.String("ca-file", os.Getenv("HOOKQ_CA_FILE"), "PEM CA bundle: use TLS and trust it (env HOOKQ_CA_FILE)")
	concurrency := flag.Int("concurrency", 4, "handlers running at once")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	c, err := client.New(client.Options{
		GRPCTargets: strings.Split(*addr, ","),
		Token:       *token,
		CAFile:      *caFile,
		Logger:      log,
	})
	if err != nil {
		log.Error("client", "err", err)
		os.Exit(2)
	}
	defer func() { _ = c.Close() }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("consuming", "addr", *addr, "queue", *queue, "concurrency", *concurrency)
	err = c.Consume(ctx, *queue, handle(log), client.ConsumeOptions{
		Concurrency:     *concurrency,
		ShutdownTimeout: 20 * time.Second,
	})
	if err != nil {
		log.Error("consume", "err", err)
		os.Exit(1)
	}
	log.Info("stopped")
}

// handle is where the work goes. Its result settles the delivery: nil
// acks, client.Reject dead-letters, another error nacks (redelivery with
// the queue's backoff).
func handle(log *slog.Logger) client.Handler {
	return func(ctx context.Context, d *client.Delivery) error {
		m := d.Meta
		if strings.Contains(d.ContentType, "json") && !json.Valid(d.Payload) {
			log.Warn("rejecting invalid JSON", "messageId", m.MessageID, "attempt", m.Attempt)
			return client.Reject("invalid JSON body")
		}
		if err := process(ctx, d); err != nil {
			log.Warn("processing failed; nacking", "messageId", m.MessageID, "attempt", m.Attempt, "err", err)
			return err
		}
		log.Info("processed", "messageId", m.MessageID, "attempt", m.Attempt, "source", m.Source,
			"contentType", d.ContentType, "bytes", len(d.Payload))
		return nil
	}
}

// process stands for the real work. It must stop when ctx ends: the lease
// was lost (the message will come again) or the consumer is giving up.
func process(ctx context.Context, d *client.Delivery) error {
	if ctx.Err() != nil {
		return errors.New("lease lost")
	}
	_ = d
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
