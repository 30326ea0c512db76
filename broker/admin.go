package broker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/hookq/hookq/ingest"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
)

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
func (b *Broker) PutQueue(ctx context.Context, name string, cfg QueueConfig) (bool, error) {
	r, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_PutQueue{PutQueue: &pb.PutQueue{Name: name, Config: queueConfigPB(cfg)}}})
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
		qi, err = b.store.Queue(name, time.Now().UnixNano())
	}
	if err != nil {
		return QueueInfo{}, err
	}
	return queueInfoOf(qi), nil
}

// Queues lists every queue with stats as of now.
func (b *Broker) Queues() ([]QueueInfo, error) {
	qs, err := b.store.Queues(time.Now().UnixNano())
	if err != nil {
		return nil, err
	}
	out := make([]QueueInfo, 0, len(qs))
	for _, qi := range qs {
		out = append(out, queueInfoOf(qi))
	}
	return out, nil
}

// IsDeadLetterQueue reports whether another queue names q as its
// dead-letter queue (this node's state; no stats are computed).
func (b *Broker) IsDeadLetterQueue(q string) bool { return b.store.IsDeadLetterQueue(q) }

// PutSource creates or replaces a source.
func (b *Broker) PutSource(ctx context.Context, name string, cfg ingest.SourceConfig) (bool, error) {
	r, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_PutSource{PutSource: &pb.PutSource{Name: name, Config: sourceRecord(cfg)}}})
	return r.Created, err
}

// CaptureSourceSecret stores secret as the one secret of source name, a
// source that has none yet (Asana's handshake hands the secret over; see
// ingest.Reply.CaptureSecret). A source that already has secrets keeps
// them: capturing one of them again is a no-op, any other is
// ErrSourceHasSecret (a conflict). The state machine decides when it
// applies the write, so of racing captures the first committed wins, and
// the source's other settings are the ones committed, not this node's
// copy.
func (b *Broker) CaptureSourceSecret(ctx context.Context, name, secret string) error {
	src, err := b.Source(name)
	if err != nil {
		return err
	}
	cfg := src.SourceConfig
	cfg.Verify.Secrets = []string{secret}
	if err := cfg.Normalize(); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	_, err = b.admin(ctx, &pb.Op{Kind: &pb.Op_PutSource{PutSource: &pb.PutSource{Name: name, Config: sourceRecord(cfg), CaptureSecret: true}}})
	return err
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
func (b *Broker) Source(name string) (Source, error) {
	c, err := b.store.Source(name)
	if errors.Is(err, ErrSourceNotFound) && ingest.ValidName(name) {
		if err := b.syncWithLeader(); err != nil {
			return Source{}, err
		}
		c, err = b.store.Source(name)
	}
	if err != nil {
		return Source{}, err
	}
	return SourceOf(name, c), nil
}

// ListSources lists every source by name.
func (b *Broker) ListSources() ([]Source, error) {
	recs, names, err := b.store.Sources()
	if err != nil {
		return nil, err
	}
	out := make([]Source, 0, len(names))
	for _, n := range names {
		out = append(out, SourceOf(n, recs[n]))
	}
	return out, nil
}

// Sources lists every source record and their names in order: the
// cluster service sends them to ingest nodes as they are stored.
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
func (b *Broker) Tokens() ([]Token, error) {
	recs, err := b.store.Tokens()
	if err != nil {
		return nil, err
	}
	out := make([]Token, 0, len(recs))
	for _, t := range recs {
		out = append(out, tokenOf(t))
	}
	return out, nil
}

// DeleteToken revokes a token.
func (b *Broker) DeleteToken(ctx context.Context, name string) error {
	_, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_DeleteToken{DeleteToken: &pb.DeleteToken{Name: name}}})
	return err
}

// Authenticate finds the token with this secret.
func (b *Broker) Authenticate(secret string) (Token, bool) {
	t, ok := b.store.TokenBySecret(secret)
	if !ok {
		return Token{}, false
	}
	return tokenOf(t), true
}

// Messages lists messages of q newest first (see storage.Store.Messages),
// in state when it is not "", each with its state as of now. Like Queue
// and Source, it catches up with the leader before it says "not found".
func (b *Broker) Messages(q, state string, limit int, after string) ([]Message, string, error) {
	now := time.Now().UnixNano()
	recs, next, err := b.store.Messages(q, state, limit, after, now)
	if errors.Is(err, ErrQueueNotFound) && ingest.ValidName(q) {
		if err := b.syncWithLeader(); err != nil {
			return nil, "", err
		}
		now = time.Now().UnixNano()
		recs, next, err = b.store.Messages(q, state, limit, after, now)
	}
	if err != nil {
		return nil, "", err
	}
	out := make([]Message, 0, len(recs))
	for _, m := range recs {
		st := state
		if st == "" {
			st = storage.ViewState(m, now)
		}
		msg := messageOf(q, st, m, now)
		if msg.BodyUTF8, err = b.store.BodyUTF8(q, m.Seq); err != nil {
			return nil, "", err
		}
		out = append(out, msg)
	}
	return out, next, nil
}

// Message reads one message, its state and delivery history as of now,
// and its body. Like Queue and Source, it catches up with the leader
// before it says "not found".
func (b *Broker) Message(q, id string) (Message, []byte, error) {
	m, body, err := b.store.Message(q, id)
	if (errors.Is(err, ErrQueueNotFound) || errors.Is(err, ErrMessageNotFound)) && ingest.ValidName(q) && validID(id) {
		if err := b.syncWithLeader(); err != nil {
			return Message{}, nil, err
		}
		m, body, err = b.store.Message(q, id)
	}
	if err != nil {
		return Message{}, nil, err
	}
	now := time.Now().UnixNano()
	return messageOf(q, storage.ViewState(m, now), m, now), body, nil
}

// Replay re-enqueues copies of messages q still holds: by id, or received
// in [since, until) (zero times are unbounded). Nil ids select by time; a
// non-nil empty ids selects nothing (see selectNone).
func (b *Broker) Replay(ctx context.Context, q string, ids []string, since, until time.Time) (int64, error) {
	if ids != nil {
		if ids = selectableIDs(ids); len(ids) == 0 {
			return 0, b.selectNone(q, false)
		}
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

// Redrive moves dead-lettered messages of a DLQ back to their origin: the
// named ones, or all with nil ids; a non-nil empty ids selects nothing
// (see selectNone).
func (b *Broker) Redrive(ctx context.Context, dlq string, ids []string) (int64, error) {
	if ids != nil {
		if ids = selectableIDs(ids); len(ids) == 0 {
			return 0, b.selectNone(dlq, true)
		}
	}
	r, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_Redrive{Redrive: &pb.Redrive{Queue: dlq, MessageIds: ids}}})
	return r.Count, err
}

// selectNone answers a replay or redrive of an explicit empty id list, which
// an op cannot carry (an op with no ids selects all): nothing to do, after
// the state machine's own checks (storage.Store.CheckSelection) on this
// node's state. Before answering that q does not exist, a follower catches
// up with the leader, as Queue does.
func (b *Broker) selectNone(q string, redrive bool) error {
	err := b.store.CheckSelection(q, redrive)
	if errors.Is(err, ErrQueueNotFound) && ingest.ValidName(q) {
		if err := b.syncWithLeader(); err != nil {
			return err
		}
		err = b.store.CheckSelection(q, redrive)
	}
	return err
}

// selectableIDs drops ids no message can have (like unknown ones, they
// select nothing). It returns a non-nil, possibly empty, list: a list of
// only such ids selects nothing (selectNone), never everything.
func selectableIDs(ids []string) []string {
	kept := make([]string, 0, len(ids))
	for _, id := range ids {
		if validID(id) {
			kept = append(kept, id)
		}
	}
	return kept
}

// SelectionLimits are the bounds of one replay or redrive: messages, and
// bytes of their bodies (over either: ErrSelectionTooLarge, nothing
// changed).
func SelectionLimits() (messages int, bodyBytes int64) {
	return storage.SelectionLimits()
}

// SetSelectionLimitsForTesting lowers the bounds of SelectionLimits until
// the returned restore is called (storage.SetSelectionLimitsForTesting).
// Tests only: every node of a cluster must apply with the same bounds.
func SetSelectionLimitsForTesting(messages int, bodyBytes int64) (restore func()) {
	return storage.SetSelectionLimitsForTesting(messages, bodyBytes)
}

// Purge removes every ready, delayed and in-flight message of q.
func (b *Broker) Purge(ctx context.Context, q string) (int64, error) {
	r, err := b.admin(ctx, &pb.Op{Kind: &pb.Op_Purge{Purge: &pb.Purge{Queue: q}}})
	return r.Count, err
}

// NodeInfo describes one cluster member.
// Its JSON form is GET /v1/cluster's (docs/API.md), which ingest nodes
// also read to find the leader.
type NodeInfo struct {
	ID           string `json:"id"`
	RaftAddr     string `json:"raftAddr"`
	HTTPAddr     string `json:"httpAddr"`
	GRPCAddr     string `json:"grpcAddr"`
	Role         string `json:"role"`     // voter | ingest
	Suffrage     string `json:"suffrage"` // voter | nonvoter | none
	Healthy      bool   `json:"healthy"`
	AppliedIndex uint64 `json:"appliedIndex"`
	// Version is the node's release, from its record ("" until it
	// reported one).
	Version string `json:"version,omitempty"`
}

// ClusterInfo is the cluster as this node sees it.
type ClusterInfo struct {
	Leader string     `json:"leader"`
	Term   uint64     `json:"term"`
	Nodes  []NodeInfo `json:"nodes"`
}
