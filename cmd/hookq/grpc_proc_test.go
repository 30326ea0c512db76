package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	hookqv1 "github.com/hookq/hookq/proto/hookq/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// SIGTERM ends a node's open Consume streams with Unavailable (so their
// clients reconnect) before the process exits; the delivery left
// unsettled is not lost.
func TestGRPCSigtermEndsConsumeUnavailable(t *testing.T) {
	p := newProc(t, "g1")
	p.start()
	p.waitReady(30 * time.Second)
	setupQueue(t, p, "jobs")
	conn, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+testAdmin), 60*time.Second)
	defer cancel()
	pub, err := hookqv1.NewPublisherClient(conn).Publish(ctx, &hookqv1.PublishRequest{Queue: "jobs", Messages: []*hookqv1.Message{{Body: []byte("x")}}})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	st, err := hookqv1.NewConsumerClient(conn).Consume(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&hookqv1.ConsumeRequest{Kind: &hookqv1.ConsumeRequest_Start{Start: &hookqv1.Start{Queue: "jobs", Credits: 2, Visibility: durationpb.New(time.Second)}}}); err != nil {
		t.Fatal(err)
	}
	d, err := st.Recv()
	if err != nil || d.Meta.MessageId != pub.MessageIds[0] {
		t.Fatalf("first delivery %v, %v", d, err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, err = st.Recv()
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("stream ended with %v, want Unavailable", err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after SIGTERM:\n%s", p.log())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.log())
	}
	// Restarted, the node still has the unsettled message: its lease
	// (1s) ran out and it is delivered again.
	p.start()
	p.waitReady(30 * time.Second)
	ids, _ := drain(t, p, "jobs")
	if !ids[pub.MessageIds[0]] {
		t.Fatalf("message %s lost across the SIGTERM (drained %v)", pub.MessageIds[0], ids)
	}
}
