package storage

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/protobuf/proto"
)

// Result is the outcome of an administrative operation.
type Result struct {
	Created bool  // Put*: the resource did not exist before
	Count   int64 // Redrive/Replay/Purge/Sweep: items affected
	Err     error
}

// PutQueue creates or replaces a queue's settings; a new queue's
// dead-letter queue is created with it when missing.
func (t *Txn) PutQueue(op *pb.PutQueue) Result {
	if err := checkPutQueue(op); err != nil {
		return Result{Err: err}
	}
	if t.deadLetterCycle(op.Name, op.Config.GetDeadLetterQueue()) {
		return Result{Err: ErrDeadLetterCycle}
	}
	cfg := proto.Clone(op.Config).(*pb.QueueConfig)
	old, exists := t.queue(op.Name)
	if exists {
		cfg.CreatedUnixNano = old.CreatedUnixNano
	} else {
		cfg.CreatedUnixNano = t.now
		t.stat(op.Name)
	}
	t.set(cfgKey(pQueueCfg, op.Name), marshal(cfg))
	if dlq := cfg.DeadLetterQueue; dlq != "" && dlq != op.Name {
		if _, ok := t.queue(dlq); !ok {
			d := DLQDefaults(cfg)
			d.CreatedUnixNano = t.now
			t.set(cfgKey(pQueueCfg, dlq), marshal(d))
			t.stat(dlq)
		}
	}
	return Result{Created: !exists}
}

// deadLetterCycle reports whether making dlq the dead-letter queue of q
// closes a cycle: following dead-letter queues from dlq leads back to q.
func (t *Txn) deadLetterCycle(q, dlq string) bool {
	seen := map[string]bool{}
	for cur := dlq; cur != "" && !seen[cur]; {
		if cur == q {
			return true
		}
		seen[cur] = true
		c, ok := t.queue(cur)
		if !ok {
			return false
		}
		cur = c.DeadLetterQueue
	}
	return false
}

// DeleteQueue drops a queue, all its messages, and its name from sources.
func (t *Txn) DeleteQueue(op *pb.DeleteQueue) Result {
	if op == nil {
		return Result{Err: invalid("empty delete queue")}
	}
	if _, ok := t.queue(op.Name); !ok {
		return Result{Err: ErrQueueNotFound}
	}
	for _, kind := range []byte{pMsg, pBody, pReady, pLeased, pGC} {
		p := queuePrefix(kind, op.Name)
		t.delRange(p, prefixEnd(p))
	}
	t.del(cfgKey(pQueueCfg, op.Name))
	t.del(cfgKey(pStats, op.Name))
	t.stats[op.Name] = nil
	p := []byte(pSourceCfg)
	type upd struct {
		key []byte
		cfg *pb.SourceConfig
	}
	var updates []upd
	t.scan(p, prefixEnd(p), 0, func(k, v []byte) bool {
		sc := &pb.SourceConfig{}
		if err := proto.Unmarshal(v, sc); err != nil {
			panic(err)
		}
		kept := sc.Queues[:0]
		for _, q := range sc.Queues {
			if q != op.Name {
				kept = append(kept, q)
			}
		}
		if len(kept) != len(sc.Queues) {
			sc.Queues = kept
			updates = append(updates, upd{append([]byte(nil), k...), sc})
		}
		return true
	})
	for _, u := range updates {
		t.set(u.key, marshal(u.cfg))
	}
	return Result{}
}

// PutSource creates or replaces a source; every queue it feeds must exist.
// With CaptureSecret it only sets the secrets of an existing source that
// has none (see captureSourceSecret).
func (t *Txn) PutSource(op *pb.PutSource) Result {
	if err := checkPutSource(op); err != nil {
		return Result{Err: err}
	}
	if op.CaptureSecret {
		return t.captureSourceSecret(op)
	}
	for _, q := range op.Config.Queues {
		if _, ok := t.queue(q); !ok {
			return Result{Err: ErrQueueNotFound}
		}
	}
	cfg := proto.Clone(op.Config).(*pb.SourceConfig)
	old := &pb.SourceConfig{}
	exists, err := getProto(t.b, cfgKey(pSourceCfg, op.Name), old)
	if err != nil {
		panic(err)
	}
	cfg.CreatedUnixNano = t.now
	if exists {
		cfg.CreatedUnixNano = old.CreatedUnixNano
	}
	t.set(cfgKey(pSourceCfg, op.Name), marshal(cfg))
	return Result{Created: !exists}
}

// captureSourceSecret stores op.Config.Secrets as the secrets of source
// op.Name if it has none, keeping every other stored setting. A source
// that has secrets keeps them: capturing one of them again is a no-op, anything else is ErrSourceHasSecret. Deciding here, at apply
// time, makes the first capture committed win.
func (t *Txn) captureSourceSecret(op *pb.PutSource) Result {
	if len(op.Config.Secrets) != 1 || op.Config.Secrets[0] == "" {
		return Result{Err: invalid("capture without exactly one secret")}
	}
	cur := &pb.SourceConfig{}
	exists, err := getProto(t.b, cfgKey(pSourceCfg, op.Name), cur)
	if err != nil {
		panic(err)
	}
	if !exists {
		return Result{Err: ErrSourceNotFound}
	}
	secret := op.Config.Secrets[0]
	if len(cur.Secrets) > 0 {
		if slices.Contains(cur.Secrets, secret) {
			return Result{}
		}
		return Result{Err: ErrSourceHasSecret}
	}
	cur.Secrets = []string{secret}
	t.set(cfgKey(pSourceCfg, op.Name), marshal(cur))
	return Result{}
}

// DeleteSource drops a source (its dedup entries expire on their own).
func (t *Txn) DeleteSource(op *pb.DeleteSource) Result {
	if op == nil {
		return Result{Err: invalid("empty delete source")}
	}
	if _, ok, _ := getBytes(t.b, cfgKey(pSourceCfg, op.Name)); !ok {
		return Result{Err: ErrSourceNotFound}
	}
	t.del(cfgKey(pSourceCfg, op.Name))
	return Result{}
}

// PutToken stores a new token; names are unique.
func (t *Txn) PutToken(op *pb.PutToken) Result {
	if op.GetToken() == nil {
		return Result{Err: invalid("put token without a token")}
	}
	tok := proto.Clone(op.Token).(*pb.TokenRecord)
	if _, ok, _ := getBytes(t.b, cfgKey(pToken, tok.Name)); ok {
		return Result{Err: ErrTokenExists}
	}
	tok.CreatedUnixNano = t.now
	t.set(cfgKey(pToken, tok.Name), marshal(tok))
	t.set(cfgKey(pTokenHash, hex.EncodeToString(tok.Sha256)), []byte(tok.Name))
	return Result{Created: true}
}

// DeleteToken revokes a token.
func (t *Txn) DeleteToken(op *pb.DeleteToken) Result {
	if op == nil {
		return Result{Err: invalid("empty delete token")}
	}
	tok := &pb.TokenRecord{}
	ok, err := getProto(t.b, cfgKey(pToken, op.Name), tok)
	if err != nil {
		panic(err)
	}
	if !ok {
		return Result{Err: ErrTokenNotFound}
	}
	t.del(cfgKey(pToken, op.Name))
	t.del(cfgKey(pTokenHash, hex.EncodeToString(tok.Sha256)))
	return Result{}
}

// PutNode records a node's addresses.
func (t *Txn) PutNode(op *pb.PutNode) Result {
	if op.GetNode() == nil {
		return Result{Err: invalid("put node without a node")}
	}
	_, exists, _ := getBytes(t.b, cfgKey(pNode, op.Node.Id))
	t.set(cfgKey(pNode, op.Node.Id), marshal(op.Node))
	return Result{Created: !exists}
}

// DeleteNode forgets a node.
func (t *Txn) DeleteNode(op *pb.DeleteNode) Result {
	if op == nil {
		return Result{Err: invalid("empty delete node")}
	}
	if _, ok, _ := getBytes(t.b, cfgKey(pNode, op.Id)); !ok {
		return Result{Err: ErrNodeNotFound}
	}
	t.del(cfgKey(pNode, op.Id))
	return Result{}
}

// checkSelection is the one check of a replay or redrive before it picks
// messages: q exists, and for a redrive some queue names it as its
// dead-letter queue. The state machine runs it for every Replay and
// Redrive op; Store.CheckSelection for a selection of no ids, which never
// becomes an op (an op with no ids selects all).
func checkSelection(r pebble.Reader, q string, redrive bool) error {
	ok, err := getProto(r, cfgKey(pQueueCfg, q), &pb.QueueConfig{})
	switch {
	case err != nil:
		return err
	case !ok:
		return ErrQueueNotFound
	}
	if !redrive {
		return nil
	}
	found := false
	p := []byte(pQueueCfg)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return fmt.Errorf("storage: iter: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid() && !found; it.Next() {
		c := &pb.QueueConfig{}
		if err := proto.Unmarshal(it.Value(), c); err != nil {
			return fmt.Errorf("storage: queue config: %w", err)
		}
		found = c.DeadLetterQueue == q
	}
	if !found {
		return ErrNotDeadLetter
	}
	return nil
}

// checkSelection is checkSelection inside the state machine, where a
// failure to read the store is fatal (as every read of a Txn).
func (t *Txn) checkSelection(q string, redrive bool) error {
	err := checkSelection(t.b, q, redrive)
	if err != nil && !errors.Is(err, ErrQueueNotFound) && !errors.Is(err, ErrNotDeadLetter) {
		panic(err)
	}
	return err
}

// CheckSelection answers, as the state machine would, whether a replay
// (redrive false) or redrive of q may run: for a selection of no ids.
func (s *Store) CheckSelection(q string, redrive bool) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return checkSelection(s.db, q, redrive)
}

// A replay or redrive copies or moves every message it selects within one
// Raft entry, on every voter at once, and a restarted node applies the
// entry again: so one selection is bounded, by count and by body bytes,
// and one over either bound changes nothing (ErrSelectionTooLarge). Tests
// lower them; they are the same on every node, so applying stays
// deterministic.
var (
	maxSelectMessages = 10000
	maxSelectBytes    = int64(256 << 20)
)

// SelectionLimits are the bounds of one replay or redrive: messages, and
// bytes of their bodies.
func SelectionLimits() (messages int, bodyBytes int64) {
	return maxSelectMessages, maxSelectBytes
}

// SetSelectionLimitsForTesting lowers the bounds of SelectionLimits until
// the returned restore is called. Tests only: every node of a cluster must
// apply with the same bounds.
func SetSelectionLimitsForTesting(messages int, bodyBytes int64) (restore func()) {
	m, b := maxSelectMessages, maxSelectBytes
	maxSelectMessages, maxSelectBytes = messages, bodyBytes
	return func() { maxSelectMessages, maxSelectBytes = m, b }
}

// selectMessages returns q's messages named by ids (unknown or malformed
// ids skipped), or all of them when ids is empty, that keep passes. When
// bounded, over maxSelectMessages messages or maxSelectBytes of their
// bodies it stops and returns ErrSelectionTooLarge, before the caller
// writes anything. (Purge is not bounded: it reads records, not bodies,
// and only deletes.)
func (t *Txn) selectMessages(q string, ids []string, bounded bool, keep func(*pb.MessageRecord) bool) ([]*pb.MessageRecord, error) {
	var out []*pb.MessageRecord
	var size int64
	over := false
	add := func(rec *pb.MessageRecord) bool {
		out = append(out, rec)
		if !bounded {
			return true
		}
		size += t.bodyLen(q, rec.Seq)
		over = len(out) > maxSelectMessages || size > maxSelectBytes
		return !over
	}
	if len(ids) > 0 {
		seen := map[uint64]bool{}
		for _, id := range ids {
			seq, ok := ParseMessageID(id)
			if !ok || seen[seq] {
				continue
			}
			seen[seq] = true
			if rec, ok := t.message(q, seq); ok && keep(rec) && !add(rec) {
				break
			}
		}
	} else {
		p := queuePrefix(pMsg, q)
		t.scan(p, prefixEnd(p), 0, func(_, v []byte) bool {
			rec := &pb.MessageRecord{}
			if err := proto.Unmarshal(v, rec); err != nil {
				panic(err)
			}
			return !keep(rec) || add(rec)
		})
	}
	if over {
		return nil, ErrSelectionTooLarge
	}
	return out, nil
}

// bodyLen is the length of a message's stored body (0 when none).
func (t *Txn) bodyLen(q string, seq uint64) int64 {
	v, c, err := t.b.Get(msgKey(pBody, q, seq))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0
	}
	if err != nil {
		panic(fmt.Sprintf("storage: get: %v", err))
	}
	n := int64(len(v))
	_ = c.Close()
	return n
}

// Redrive moves ready or delayed dead-lettered messages of a DLQ back to
// their origin queues with attempts reset.
func (t *Txn) Redrive(op *pb.Redrive) Result {
	if op == nil {
		return Result{Err: invalid("empty redrive")}
	}
	if err := t.checkSelection(op.Queue, true); err != nil {
		return Result{Err: err}
	}
	recs, err := t.selectMessages(op.Queue, op.MessageIds, true, func(r *pb.MessageRecord) bool {
		return r.State == pb.MessageState_PENDING && r.DeadLetter != nil
	})
	if err != nil {
		return Result{Err: err}
	}
	var n int64
	for _, rec := range recs {
		origin := rec.DeadLetter.OriginQueue
		if _, ok := t.queue(origin); !ok {
			continue
		}
		if old, ok := t.message(origin, rec.Seq); ok {
			if old.State != pb.MessageState_TOMBSTONE {
				continue
			}
			t.del(indexKey(pGC, origin, old.AckedUnixNano, old.Seq))
		}
		bodyKey := msgKey(pBody, op.Queue, rec.Seq)
		body, _, err := getBytes(t.b, bodyKey)
		if err != nil {
			panic(err)
		}
		t.del(bodyKey)
		t.del(indexKey(pReady, op.Queue, rec.AvailableUnixNano, rec.Seq))
		t.stat(op.Queue).Pending--
		t.tombstone(op.Queue, rec)
		back := &pb.MessageRecord{
			Seq: rec.Seq, Source: rec.Source, ReceivedUnixNano: rec.ReceivedUnixNano, EventId: rec.EventId,
			ReplayOf: rec.ReplayOf, ContentType: rec.ContentType, Headers: rec.Headers, Deliveries: rec.Deliveries,
		}
		t.insertPending(origin, back, body)
		n++
	}
	return Result{Count: n}
}

// Replay enqueues new copies (new messageId, replayOf set) of messages q
// still holds: those named, or those received in [since, until).
func (t *Txn) Replay(op *pb.Replay) Result {
	if err := checkReplay(op); err != nil {
		return Result{Err: err}
	}
	if err := t.checkSelection(op.Queue, false); err != nil {
		return Result{Err: err}
	}
	recs, err := t.selectMessages(op.Queue, op.MessageIds, true, func(r *pb.MessageRecord) bool {
		if r.State == pb.MessageState_TOMBSTONE {
			return false
		}
		if op.SinceUnixNano != 0 && r.ReceivedUnixNano < op.SinceUnixNano {
			return false
		}
		return op.UntilUnixNano == 0 || r.ReceivedUnixNano < op.UntilUnixNano
	})
	if err != nil {
		return Result{Err: err}
	}
	var n int64
	for _, rec := range recs {
		seq, ok := t.nextSeq()
		if !ok {
			break
		}
		body, _, err := getBytes(t.b, msgKey(pBody, op.Queue, rec.Seq))
		if err != nil {
			panic(err)
		}
		t.insertPending(op.Queue, &pb.MessageRecord{
			Seq: seq, Source: rec.Source, ReceivedUnixNano: t.now, EventId: rec.EventId,
			ReplayOf: MessageID(rec.Seq), ContentType: rec.ContentType, Headers: rec.Headers,
		}, body)
		n++
	}
	return Result{Count: n}
}

// Purge removes every ready, delayed and in-flight message of q; their
// leases end (settling them answers lease_expired).
func (t *Txn) Purge(op *pb.Purge) Result {
	if op == nil {
		return Result{Err: invalid("empty purge")}
	}
	if _, ok := t.queue(op.Queue); !ok {
		return Result{Err: ErrQueueNotFound}
	}
	recs, _ := t.selectMessages(op.Queue, nil, false, func(r *pb.MessageRecord) bool {
		return r.State == pb.MessageState_PENDING || r.State == pb.MessageState_INFLIGHT
	})
	st := t.stat(op.Queue)
	for _, rec := range recs {
		if rec.State == pb.MessageState_INFLIGHT {
			t.del(indexKey(pLeased, op.Queue, rec.AvailableUnixNano, rec.Seq))
			st.Inflight--
			if n := len(rec.Deliveries); n > 0 {
				rec.Deliveries[n-1].Outcome, rec.Deliveries[n-1].SettledUnixNano = "purged", t.now
			}
		} else {
			t.del(indexKey(pReady, op.Queue, rec.AvailableUnixNano, rec.Seq))
			st.Pending--
		}
		t.del(msgKey(pBody, op.Queue, rec.Seq))
		t.tombstone(op.Queue, rec)
	}
	return Result{Count: int64(len(recs))}
}
