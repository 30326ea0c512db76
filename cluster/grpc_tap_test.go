package cluster_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/cluster"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Issue 9 review, item 3: a Cluster call without a valid node key is
// refused from its headers, before its request message is read (grpc-go
// would otherwise buffer up to MaxRPCBytes of it per call before any
// interceptor runs). The client opens a Propose call and sends no message
// at all: without the key it is refused at once; with the key the server
// waits for the message (control: it is the key that is checked early).
func TestClusterCallWithoutKeyIsRefusedBeforeItsMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	n := brokertest.StartCluster(t, 1, nil)[0]
	cc, err := grpc.NewClient(n.Self.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	open := func(bearer string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if bearer != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+bearer)
		}
		s, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, pb.Cluster_Propose_FullMethodName)
		if err != nil {
			return err
		}
		// No SendMsg, no CloseSend: the request message never comes.
		return s.RecvMsg(new(pb.ProposeResponse))
	}
	for _, tc := range []struct{ name, bearer string }{{"no key", ""}, {"wrong key", "wrong"}} {
		start := time.Now()
		err := open(tc.bearer)
		if status.Code(err) != codes.Unauthenticated || time.Since(start) > time.Second {
			t.Errorf("%s: %v after %v; want Unauthenticated before the message is sent", tc.name, err, time.Since(start).Round(time.Millisecond))
		}
	}
	if err := open(brokertest.ClusterKey); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("with the cluster key: %v; want the server to wait for the message (DeadlineExceeded)", err)
	}
}

// LimitListener (the gRPC port's connection cap) hands out at most n
// connections at once; the next is accepted when one closes.
func TestLimitListenerCapsOpenConnections(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := cluster.LimitListener(inner, 2)
	defer l.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first := <-accepted
	<-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection was accepted while two were open")
	case <-time.After(300 * time.Millisecond): // a negative: nothing may arrive
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the third connection was not accepted after one closed")
	}
}
