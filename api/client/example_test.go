package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	"github.com/hookq/hookq/api/client"
)

// A consumer over gRPC: four handlers at once, the handler's result
// settles each message.
func ExampleClient_Consume() {
	c, err := client.New(client.Options{GRPCTargets: []string{grpcAddr}, Token: token})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, "orders", client.Message{Body: []byte(`{"order":1}`), ContentType: "application/json"}); err != nil {
		log.Fatal(err)
	}

	err = c.Consume(ctx, "orders", func(ctx context.Context, d *client.Delivery) error {
		fmt.Printf("order %s (attempt %d)\n", d.Payload, d.Meta.Attempt)
		cancel()   // a real consumer runs until it is told to stop
		return nil // ack
	}, client.ConsumeOptions{Concurrency: 4})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// order {"order":1} (attempt 1)
}

// A handler asks for a later retry with client.Retry; the message comes
// back as attempt 2.
func ExampleRetry() {
	c, err := client.New(client.Options{GRPCTargets: []string{grpcAddr}, Token: token})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, "invoices", client.Message{Body: []byte("invoice-7")}); err != nil {
		log.Fatal(err)
	}
	err = c.Consume(ctx, "invoices", func(ctx context.Context, d *client.Delivery) error {
		fmt.Printf("%s attempt %d\n", d.Payload, d.Meta.Attempt)
		if d.Meta.Attempt == 1 {
			return fmt.Errorf("payment service busy: %w", client.Retry(100*time.Millisecond))
		}
		cancel()
		return nil
	}, client.ConsumeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// invoice-7 attempt 1
	// invoice-7 attempt 2
}

// A handler dead-letters a message no retry can fix with client.Reject;
// it lands in the queue's DLQ with the reason.
func ExampleReject() {
	c, err := client.New(client.Options{GRPCTargets: []string{grpcAddr}, Token: token})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, "signups", client.Message{Body: []byte("not json"), ContentType: "application/json"}); err != nil {
		log.Fatal(err)
	}
	consumeCtx, stop := context.WithCancel(ctx)
	var seen atomic.Int32
	err = c.Consume(consumeCtx, "signups", func(ctx context.Context, d *client.Delivery) error {
		seen.Add(1)
		stop()
		return client.Reject("invalid JSON")
	}, client.ConsumeOptions{})
	if err != nil {
		log.Fatal(err)
	}

	dead, err := c.Lease(ctx, "signups.dlq", client.LeaseOptions{Wait: 5 * time.Second})
	if err != nil || len(dead) != 1 {
		log.Fatal(len(dead), err)
	}
	dl := dead[0].Meta.DeadLetter
	fmt.Printf("handled %d time(s); dead letter from %s: %s\n", seen.Load(), dl.OriginQueue, dl.Reason)
	// Output:
	// handled 1 time(s); dead letter from signups: invalid JSON
}

// Leasing and settling one call at a time, here over REST: a client given
// only an HTTP URL uses the HTTP API, with the same calls and errors.
func ExampleClient_Lease() {
	c, err := client.New(client.Options{HTTPURL: httpURL, Token: token})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	if _, err := c.Publish(ctx, "events", client.Message{Body: []byte("hello"), EventID: "evt-1"}); err != nil {
		log.Fatal(err)
	}
	ds, err := c.Lease(ctx, "events", client.LeaseOptions{Max: 10, Wait: 5 * time.Second, Visibility: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range ds {
		fmt.Printf("%s %s attempt %d over %s\n", d.Payload, d.Meta.EventID, d.Meta.Attempt, c.Transport())
		if err := c.Ack(ctx, "events", d.Meta.DeliveryID); err != nil {
			log.Fatal(err)
		}
		// A second settlement finds the lease ended.
		err := c.Ack(ctx, "events", d.Meta.DeliveryID)
		var e *client.Error
		if errors.As(err, &e) {
			fmt.Println(client.IsLeaseExpired(err), e.Code, e.HTTPStatus, e.GRPCCode)
		}
	}
	// Output:
	// hello evt-1 attempt 1 over rest
	// true lease_expired 409 FailedPrecondition
}
