package broker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hookq/hookq/ingest"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
)

// QueueInfo is a queue's settings and stats (see storage.QueueInfo).
type QueueInfo = storage.QueueInfo

// Stats are a queue's counts at a moment.
type Stats = storage.Stats

// admin proposes one administrative op and returns its storage.Result.
func (b *Broker) admin(ctx context.Context, op *pb.Op) (storage.Result, error) {
	res, err := b.batcher.propose(ctx, op)
	if err != nil {
		return storage.Result{}, err
	}
	r, err := resultOf[storage.Result](res)
	if err != nil {
		return storage.Result{}, err
	}
	return r, r.Err
}

// PutQueue creates (created=true) or replaces a queue's settings.
func (b *Broker) PutQueue(ctx context.Context, name string, cfg *pb.QueueConfig) (bool, error) {
	r, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_PutQueue{PutQueue: &pb.PutQueue{Name: name, Config: cfg}}})
	return r.Created, err
}

// DeleteQueue drops a queue and its messages.
func (b *Broker) DeleteQueue(ctx context.Context, name string) error {
	_, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_DeleteQueue{DeleteQueue: &pb.DeleteQueue{Name: name}}})
	return err
}

// Queue reads one queue with stats as of now. Before answering that it
// does not exist, a follower catches up with the leader (503 when it cannot).
func (b *Broker) Queue(name string) (QueueInfo, error) {
	qi, err := b.store.Queue(name, time.Now().UnixNano())
	if errors.Is(err, ErrQueueNotFound) && ingest.ValidName(name) {
		if err := b.syncWithLeader(); err != nil {
			return QueueInfo{}, err
		}
		return b.store.Queue(name, time.Now().UnixNano())
	}
	return qi, err
}

// Queues lists every queue with stats as of now.
func (b *Broker) Queues() ([]QueueInfo, error) { return b.store.Queues(time.Now().UnixNano()) }

// PutSource creates or replaces a source.
func (b *Broker) PutSource(ctx context.Context, name string, cfg *pb.SourceConfig) (bool, error) {
	r, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_PutSource{PutSource: &pb.PutSource{Name: name, Config: cfg}}})
	return r.Created, err
}

// DeleteSource drops a source.
func (b *Broker) DeleteSource(ctx context.Context, name string) error {
	_, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_DeleteSource{DeleteSource: &pb.DeleteSource{Name: name}}})
	return err
}

// Source reads a source's config (secrets included: callers must not
// return them over the API).
// Before answering that it does not exist, a follower catches up with the
// leader (503 when it cannot): a provider takes a 404 as final.
func (b *Broker) Source(name string) (*pb.SourceConfig, error) {
	c, err := b.store.Source(name)
	if errors.Is(err, ErrSourceNotFound) && ingest.ValidName(name) {
		if err := b.syncWithLeader(); err != nil {
			return nil, err
		}
		return b.store.Source(name)
	}
	return c, err
}

// Sources lists every source config and their names in order.
func (b *Broker) Sources() (map[string]*pb.SourceConfig, []string, error) { return b.store.Sources() }

// CreateToken makes a new bearer token, stores only its SHA-256, and
// returns the secret (shown once).
func (b *Broker) CreateToken(ctx context.Context, name string, scopes []string) (string, error) {
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("broker: random: %w", err)
	}
	secret := "hq_" + base64.RawURLEncoding.EncodeToString(raw)
	return secret, b.PutTokenSecret(ctx, name, secret, scopes)
}

// PutTokenSecret stores a token with a known secret (the --dev token).
func (b *Broker) PutTokenSecret(ctx context.Context, name, secret string, scopes []string) error {
	sum := sha256.Sum256([]byte(secret))
	_, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_PutToken{PutToken: &pb.PutToken{
		Token: &pb.TokenRecord{Name: name, Sha256: sum[:], Scopes: scopes},
	}}})
	return err
}

// Tokens lists tokens (names, scopes, creation; never secrets).
func (b *Broker) Tokens() ([]*pb.TokenRecord, error) { return b.store.Tokens() }

// DeleteToken revokes a token.
func (b *Broker) DeleteToken(ctx context.Context, name string) error {
	_, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_DeleteToken{DeleteToken: &pb.DeleteToken{Name: name}}})
	return err
}

// Authenticate finds the token with this secret.
func (b *Broker) Authenticate(secret string) (*pb.TokenRecord, bool) {
	return b.store.TokenBySecret(secret)
}

// Messages lists messages of q newest first (see storage.Store.Messages).
func (b *Broker) Messages(q, state string, limit int, after string) ([]*pb.MessageRecord, string, error) {
	recs, next, err := b.store.Messages(q, state, limit, after, time.Now().UnixNano())
	if errors.Is(err, ErrQueueNotFound) && ingest.ValidName(q) {
		if err := b.syncWithLeader(); err != nil {
			return nil, "", err
		}
		return b.store.Messages(q, state, limit, after, time.Now().UnixNano())
	}
	return recs, next, err
}

// Message reads one message and its body. Like Queue and Source, it
// catches up with the leader before it says "not found".
func (b *Broker) Message(q, id string) (*pb.MessageRecord, []byte, error) {
	rec, body, err := b.store.Message(q, id)
	if (errors.Is(err, ErrQueueNotFound) || errors.Is(err, ErrMessageNotFound)) && ingest.ValidName(q) && validID(id) {
		if err := b.syncWithLeader(); err != nil {
			return nil, nil, err
		}
		return b.store.Message(q, id)
	}
	return rec, body, err
}

// Replay re-enqueues copies of messages q still holds: by id, or received
// in [since, until) (zero times are unbounded).
func (b *Broker) Replay(ctx context.Context, q string, ids []string, since, until time.Time) (int64, error) {
	ids, none, err := b.selectable(q, ids)
	if none || err != nil {
		return 0, err
	}
	op := &pb.Replay{Queue: q, MessageIds: ids}
	if !since.IsZero() {
		op.SinceUnixNano = since.UnixNano()
	}
	if !until.IsZero() {
		op.UntilUnixNano = until.UnixNano()
	}
	r, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_Replay{Replay: op}})
	return r.Count, err
}

// Redrive moves dead-lettered messages of a DLQ back to their origin.
func (b *Broker) Redrive(ctx context.Context, dlq string, ids []string) (int64, error) {
	ids, none, err := b.selectable(dlq, ids)
	if none || err != nil {
		return 0, err
	}
	r, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_Redrive{Redrive: &pb.Redrive{Queue: dlq, MessageIds: ids}}})
	return r.Count, err
}

// selectable drops ids no message can have (like unknown ones, they select
// nothing). none reports that a list was given and nothing in it could
// match: the caller must not propose it, since an empty list means "all".
func (b *Broker) selectable(q string, ids []string) (kept []string, none bool, err error) {
	if len(ids) == 0 {
		return nil, false, nil
	}
	for _, id := range ids {
		if validID(id) {
			kept = append(kept, id)
		}
	}
	if len(kept) > 0 {
		return kept, false, nil
	}
	if _, err := b.Queue(q); err != nil {
		return nil, true, err
	}
	return nil, true, nil
}

// Purge removes every ready, delayed and in-flight message of q.
func (b *Broker) Purge(ctx context.Context, q string) (int64, error) {
	r, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_Purge{Purge: &pb.Purge{Queue: q}}})
	return r.Count, err
}

// NodeInfo describes one cluster member.
type NodeInfo struct {
	ID, RaftAddr, HTTPAddr, GRPCAddr string
	Role                             string // voter | ingest
	Suffrage                         string // voter | nonvoter | none
	Healthy                          bool
	AppliedIndex                     uint64
	Version                          string // release, from the node's record ("" until it reported one)
}

// ClusterInfo is the cluster as this node sees it.
type ClusterInfo struct {
	Leader string
	Term   uint64
	Nodes  []NodeInfo
}

// Cluster describes the cluster as the leader sees it (health and applied
// indexes come from heartbeats): a follower asks the leader, and falls
// back to its own view when no leader answers.
func (b *Broker) Cluster() (ClusterInfo, error) {
	if b.raft.State() != raft.Leader {
		if info, err := b.leaderCluster(); err == nil {
			return info, nil
		}
	}
	return b.localCluster()
}

func (b *Broker) leaderCluster() (ClusterInfo, error) {
	_, addr, ok := b.leaderGRPC()
	if !ok {
		return ClusterInfo{}, ErrNotLeader
	}
	c, err := b.peers.client(addr)
	if err != nil {
		return ClusterInfo{}, err
	}
	ctx, cancel := context.WithTimeout(b.ctx, time.Second)
	defer cancel()
	resp, err := c.Info(b.peers.ctx(ctx), &pb.InfoRequest{})
	if err != nil {
		return ClusterInfo{}, err
	}
	info := ClusterInfo{Leader: resp.Leader, Term: resp.Term}
	for _, n := range resp.Nodes {
		info.Nodes = append(info.Nodes, NodeInfo{
			ID: n.Node.GetId(), RaftAddr: n.Node.GetRaftAddr(), HTTPAddr: n.Node.GetHttpAddr(), GRPCAddr: n.Node.GetGrpcAddr(),
			Role: n.Node.GetRole(), Suffrage: n.Suffrage, Healthy: n.Healthy, AppliedIndex: n.AppliedIndex, Version: n.Node.GetVersion(),
		})
	}
	return info, nil
}

// localCluster is this node's own view of the cluster.
func (b *Broker) localCluster() (ClusterInfo, error) {
	_, leaderID := b.raft.LeaderWithID()
	info := ClusterInfo{Leader: string(leaderID), Term: b.raft.CurrentTerm()}
	records, err := b.store.Nodes()
	if err != nil {
		return info, err
	}
	byID := map[string]*pb.NodeRecord{}
	for _, r := range records {
		byID[r.Id] = r
	}
	leading := b.raft.State() == raft.Leader
	status := func(n *NodeInfo) {
		switch {
		case n.ID == b.cfg.NodeID:
			n.Healthy = leading || b.heardFromLeader()
			n.AppliedIndex = b.raft.AppliedIndex()
		case leading:
			n.Healthy, n.AppliedIndex = b.health.get(n.ID, healthyWindow)
		default:
			n.Healthy = n.ID == string(leaderID) && b.heardFromLeader()
		}
	}
	for _, s := range b.raftServers() {
		n := NodeInfo{ID: string(s.ID), RaftAddr: string(s.Address), Role: "voter", Suffrage: "voter"}
		if s.Suffrage != raft.Voter {
			n.Suffrage = "nonvoter"
		}
		if r, ok := byID[n.ID]; ok {
			n.HTTPAddr, n.GRPCAddr, n.Version = r.HttpAddr, r.GrpcAddr, r.Version
			delete(byID, n.ID)
		}
		status(&n)
		info.Nodes = append(info.Nodes, n)
	}
	for _, r := range records {
		if _, ok := byID[r.Id]; ok {
			n := NodeInfo{ID: r.Id, RaftAddr: r.RaftAddr, HTTPAddr: r.HttpAddr, GRPCAddr: r.GrpcAddr, Role: r.Role, Suffrage: "none", Version: r.Version}
			status(&n)
			info.Nodes = append(info.Nodes, n)
		}
	}
	return info, nil
}

// heardFromLeader reports whether a follower heard from the leader within
// the health window.
func (b *Broker) heardFromLeader() bool {
	return time.Since(b.raft.LastContact()) <= healthyWindow
}
