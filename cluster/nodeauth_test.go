package cluster_test

import (
	"context"
	"crypto/sha256"
	"net"
	"testing"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/cluster"
	"github.com/hookq/hookq/ingest"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	authClusterKey = "auth-cluster-key"
	authIngestKey  = "auth-ingest-key"
	sourceSecret   = "whsec_c2VjcmV0LW9mLXRoZS1zb3VyY2U="
)

// authNode is a single voter serving the Cluster service with both keys,
// holding queue q and source s (with a secret).
type authNode struct {
	b      *broker.Broker
	client pb.ClusterClient
}

func startAuthNode(t *testing.T) *authNode {
	t.Helper()
	b, m := brokertest.MustOpenMember(t, broker.Config{}, cluster.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.UnaryInterceptor(cluster.NodeAuth{ClusterKey: authClusterKey, IngestKey: authIngestKey}.UnaryInterceptor()))
	m.Register(s)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx := context.Background()
	if _, err := b.PutQueue(ctx, "q", broker.DefaultQueueConfig("q")); err != nil {
		t.Fatal(err)
	}
	src := ingest.SourceConfig{Queues: []string{"q"}, Verify: ingest.VerifyConfig{Type: "standard", Secrets: []string{sourceSecret}}}
	if _, err := b.PutSource(ctx, "s", src); err != nil {
		t.Fatal(err)
	}
	return &authNode{b: b, client: pb.NewClusterClient(conn)}
}

// as is a call context presenting key as the bearer ("" presents none).
func as(t *testing.T, key string) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	if key == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

func enqueueOp(body string) *pb.Op {
	return &pb.Op{Kind: &pb.Op_Enqueue{Enqueue: &pb.Enqueue{Source: "s", Queues: []string{"q"}, Body: []byte(body)}}}
}

func putTokenOp(name string) *pb.Op {
	sum := sha256.Sum256([]byte("forged-" + name))
	return &pb.Op{Kind: &pb.Op_PutToken{PutToken: &pb.PutToken{Token: &pb.TokenRecord{Name: name, Sha256: sum[:], Scopes: []string{"admin"}}}}}
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("%s: code %v (%v), want %v", what, got, err, want)
	}
}

func (n *authNode) enqueued(t *testing.T) int64 {
	t.Helper()
	qi, err := n.b.Queue("q")
	if err != nil {
		t.Fatal(err)
	}
	return qi.Stats.Enqueued
}

// The ingest credential may fetch sources, read Info, heartbeat for an
// ingest node and propose enqueues; everything else is PermissionDenied
// and proposes nothing.
func TestIngestKeyMayOnlyIngest(t *testing.T) {
	n := startAuthNode(t)
	c := n.client

	// Sources: secrets included, for the ingest node.
	sr, err := c.Sources(as(t, authIngestKey), &pb.SourcesRequest{})
	if err != nil || len(sr.Sources) != 1 || len(sr.Sources[0].Config.Secrets) != 1 || sr.Sources[0].Config.Secrets[0] != sourceSecret {
		t.Fatalf("Sources with the ingest key: %v %v", sr, err)
	}
	// Info.
	if info, err := c.Info(as(t, authIngestKey), &pb.InfoRequest{}); err != nil || info.Leader != "n1" {
		t.Fatalf("Info with the ingest key: %v %v", info, err)
	}
	// Propose of enqueues.
	before := n.enqueued(t)
	resp, err := c.Propose(as(t, authIngestKey), &pb.ProposeRequest{Ops: []*pb.Op{enqueueOp("a"), enqueueOp("b")}})
	if err != nil || len(resp.Results) != 2 {
		t.Fatalf("Propose enqueues with the ingest key: %v %v", resp, err)
	}
	if got := n.enqueued(t); got != before+2 {
		t.Fatalf("enqueued %d, want %d", got, before+2)
	}

	// Any other op kind, alone or beside enqueues: denied, nothing proposed.
	deleteQueue := &pb.Op{Kind: &pb.Op_DeleteQueue{DeleteQueue: &pb.DeleteQueue{Name: "q"}}}
	for name, ops := range map[string][]*pb.Op{
		"put token":               {putTokenOp("evil")},
		"enqueue then put token":  {enqueueOp("c"), putTokenOp("evil")},
		"delete queue":            {deleteQueue},
		"lease":                   {{Kind: &pb.Op_Lease{Lease: &pb.Lease{Queue: "q", DeliveryRands: [][]byte{make([]byte, 16)}}}}},
		"put source":              {{Kind: &pb.Op_PutSource{PutSource: &pb.PutSource{Name: "s2", Config: &pb.SourceConfig{Queues: []string{"q"}, VerifyType: "none"}}}}},
		"put node (voter record)": {{Kind: &pb.Op_PutNode{PutNode: &pb.PutNode{Node: &pb.NodeRecord{Id: "n1", Role: "ingest"}}}}},
	} {
		_, err := c.Propose(as(t, authIngestKey), &pb.ProposeRequest{Ops: ops})
		wantCode(t, "Propose "+name, err, codes.PermissionDenied)
	}
	if toks, err := n.b.Tokens(); err != nil || len(toks) != 0 {
		t.Fatalf("tokens after denied proposals: %v %v", toks, err)
	}
	if _, err := n.b.Queue("q"); err != nil {
		t.Fatalf("queue after a denied delete: %v", err)
	}
	if got := n.enqueued(t); got != before+2 {
		t.Fatalf("enqueued %d after denied proposals, want %d", got, before+2)
	}
	if _, err := n.b.Source("s2"); err == nil {
		t.Fatal("a denied proposal created a source")
	}

	// Membership: denied.
	for _, k := range []pb.MembershipRequest_Kind{pb.MembershipRequest_ADD_VOTER, pb.MembershipRequest_REMOVE, pb.MembershipRequest_TRANSFER_LEADERSHIP} {
		_, err := c.Membership(as(t, authIngestKey), &pb.MembershipRequest{Kind: k, Node: &pb.NodeRecord{Id: "evil", RaftAddr: "127.0.0.1:1"}})
		wantCode(t, "Membership "+k.String(), err, codes.PermissionDenied)
	}
	if servers := n.b.Raft().GetConfiguration().Configuration().Servers; len(servers) != 1 {
		t.Fatalf("servers after denied membership: %v", servers)
	}

	// Heartbeat: only for an ingest node that is not a member, and not
	// over a record of another role (v7: a voter's record, written by a
	// peer with the cluster key, of a node that is not a member now).
	v7 := &pb.Op{Kind: &pb.Op_PutNode{PutNode: &pb.PutNode{Node: &pb.NodeRecord{Id: "v7", Role: "voter", RaftAddr: "127.0.0.1:7"}}}}
	if _, err := c.Propose(as(t, authClusterKey), &pb.ProposeRequest{Ops: []*pb.Op{v7}}); err != nil {
		t.Fatalf("recording v7: %v", err)
	}
	for name, rec := range map[string]*pb.NodeRecord{
		"role voter":                 {Id: "v9", Role: "voter", RaftAddr: "127.0.0.1:1"},
		"no role":                    {Id: "v9"},
		"a member as ingest":         {Id: "n1", Role: "ingest"},
		"a member as a voter":        {Id: "n1", Role: "voter", RaftAddr: "127.0.0.1:1"},
		"a voter's record as ingest": {Id: "v7", Role: "ingest"},
		"no record":                  nil,
	} {
		_, err := c.Heartbeat(as(t, authIngestKey), &pb.HeartbeatRequest{Node: rec})
		wantCode(t, "Heartbeat "+name, err, codes.PermissionDenied)
	}
	hb, err := c.Heartbeat(as(t, authIngestKey), &pb.HeartbeatRequest{Node: &pb.NodeRecord{Id: "i1", HttpAddr: "127.0.0.1:2", Role: "ingest"}})
	if err != nil || hb.LeaderId != "n1" {
		t.Fatalf("Heartbeat of an ingest node: %v %v", hb, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		nodes, err := n.b.Store().Nodes()
		if err != nil {
			t.Fatal(err)
		}
		var roles = map[string]string{}
		for _, r := range nodes {
			roles[r.Id] = r.Role
		}
		if roles["i1"] == "ingest" {
			if roles["n1"] != "voter" || roles["v7"] != "voter" || roles["v9"] != "" {
				t.Fatalf("node records: %v", roles)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest node not recorded: %v", roles)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The cluster key opens every Cluster call; no key, a wrong key or the
// empty key opens none.
func TestClusterServiceNeedsANodeKey(t *testing.T) {
	n := startAuthNode(t)
	c := n.client
	for _, key := range []string{"", "wrong", "Bearer " + authClusterKey, authClusterKey + "x"} {
		_, err := c.Sources(as(t, key), &pb.SourcesRequest{})
		wantCode(t, "Sources with "+key, err, codes.Unauthenticated)
		_, err = c.Info(as(t, key), &pb.InfoRequest{})
		wantCode(t, "Info with "+key, err, codes.Unauthenticated)
		_, err = c.Propose(as(t, key), &pb.ProposeRequest{Ops: []*pb.Op{enqueueOp("x")}})
		wantCode(t, "Propose with "+key, err, codes.Unauthenticated)
		_, err = c.Heartbeat(as(t, key), &pb.HeartbeatRequest{Node: &pb.NodeRecord{Id: "i1", Role: "ingest"}})
		wantCode(t, "Heartbeat with "+key, err, codes.Unauthenticated)
		_, err = c.Membership(as(t, key), &pb.MembershipRequest{Kind: pb.MembershipRequest_REMOVE, Node: &pb.NodeRecord{Id: "nope"}})
		wantCode(t, "Membership with "+key, err, codes.Unauthenticated)
	}

	// The cluster key: any op, membership included.
	resp, err := c.Propose(as(t, authClusterKey), &pb.ProposeRequest{Ops: []*pb.Op{putTokenOp("peer")}})
	if err != nil || len(resp.Results) != 1 {
		t.Fatalf("Propose put token with the cluster key: %v %v", resp, err)
	}
	if toks, err := n.b.Tokens(); err != nil || len(toks) != 1 {
		t.Fatalf("tokens: %v %v", toks, err)
	}
	_, err = c.Membership(as(t, authClusterKey), &pb.MembershipRequest{Kind: pb.MembershipRequest_REMOVE, Node: &pb.NodeRecord{Id: "nope"}})
	if code := status.Code(err); code == codes.Unauthenticated || code == codes.PermissionDenied {
		t.Fatalf("Membership with the cluster key: %v", err)
	}
	if _, err := c.Sources(as(t, authClusterKey), &pb.SourcesRequest{}); err != nil {
		t.Fatalf("Sources with the cluster key: %v", err)
	}
}

// AuthInterceptor (cluster key only) accepts no ingest key at all.
func TestAuthInterceptorIsClusterKeyOnly(t *testing.T) {
	_, m := brokertest.MustOpenMember(t, broker.Config{}, cluster.Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.UnaryInterceptor(cluster.AuthInterceptor(authClusterKey)))
	m.Register(s)
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := pb.NewClusterClient(conn)
	_, err = c.Sources(as(t, authIngestKey), &pb.SourcesRequest{})
	wantCode(t, "Sources with an ingest key", err, codes.Unauthenticated)
	if _, err := c.Sources(as(t, authClusterKey), &pb.SourcesRequest{}); err != nil {
		t.Fatalf("Sources with the cluster key: %v", err)
	}
}
