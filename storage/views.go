package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/protobuf/proto"
)

// Stats are a queue's counts at a moment, derived from the stored counters
// and the lease/ready indexes so they are exact at any now.
type Stats struct {
	Ready, Inflight, Delayed, Acked   int64
	OldestReadyAgeNanos               int64
	Enqueued, Delivered, DeadLettered int64
}

// QueueInfo is a queue's settings and stats.
type QueueInfo struct {
	Name   string
	Config *pb.QueueConfig
	Stats  Stats
}

// Message states as the API names them.
const (
	StateReady    = "ready"
	StateDelayed  = "delayed"
	StateInflight = "inflight"
	StateAcked    = "acked"
)

// ViewState names rec's state at now: a lapsed lease is ready, a pending
// message not yet due is delayed. Tombstones have no state ("").
func ViewState(rec *pb.MessageRecord, now int64) string {
	switch rec.State {
	case pb.MessageState_PENDING:
		if rec.AvailableUnixNano > now {
			return StateDelayed
		}
		return StateReady
	case pb.MessageState_INFLIGHT:
		if rec.AvailableUnixNano > now {
			return StateInflight
		}
		return StateReady
	case pb.MessageState_ACKED:
		return StateAcked
	}
	return ""
}

// Queue returns one queue's settings and its stats at now.
func (s *Store) Queue(name string, now int64) (QueueInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cfg, ok := s.cfgs.get(pQueueCfg + name).(*pb.QueueConfig)
	if !ok {
		return QueueInfo{}, ErrQueueNotFound
	}
	return QueueInfo{Name: name, Config: proto.CloneOf(cfg), Stats: s.stats(name, now)}, nil
}

// Queues lists every queue, by name.
func (s *Store) Queues(now int64) ([]QueueInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []QueueInfo
	var err error
	iterate(s.db, []byte(pQueueCfg), func(k, v []byte) bool {
		cfg := &pb.QueueConfig{}
		if err = proto.Unmarshal(v, cfg); err != nil {
			return false
		}
		name := string(k[len(pQueueCfg):])
		out = append(out, QueueInfo{Name: name, Config: cfg})
		return true
	})
	for i := range out {
		out[i].Stats = s.stats(out[i].Name, now)
	}
	return out, err
}

func (s *Store) stats(q string, now int64) Stats {
	st := &pb.QueueStats{}
	if _, err := getProto(s.db, cfgKey(pStats, q), st); err != nil {
		return Stats{}
	}
	delayed, oldestPending := s.countAfter(queuePrefix(pReady, q), now)
	leased, oldestLapsed := s.countAfter(queuePrefix(pLeased, q), now)
	out := Stats{
		Delayed:  delayed,
		Inflight: leased,
		Ready:    st.Pending - delayed + st.Inflight - leased,
		Acked:    st.Acked, Enqueued: st.Enqueued, Delivered: st.Delivered, DeadLettered: st.DeadLettered,
	}
	oldest := int64(-1)
	for _, at := range []int64{oldestPending, oldestLapsed} {
		if at >= 0 && (oldest < 0 || at < oldest) {
			oldest = at
		}
	}
	if oldest >= 0 {
		out.OldestReadyAgeNanos = now - oldest
	}
	return out
}

// countAfter counts index entries under p whose time is after now, and
// returns the time of the first entry at or before now (-1 if none). The
// caller holds s.mu.
func (s *Store) countAfter(p []byte, now int64) (int64, int64) {
	first := int64(-1)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: s.heads.start(p), UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, -1
	}
	defer it.Close()
	if it.First() {
		if at, _ := indexEntry(it.Key(), len(p)); at <= now {
			first = at
		}
	}
	var n int64
	for it.SeekGE(be64(append([]byte(nil), p...), tsKey(now)+1)); it.Valid(); it.Next() {
		n++
	}
	return n, first
}

// NextAvailable is the earliest time any message of q is or becomes
// available (pending or lease end); ok is false when q holds none.
func (s *Store) NextAvailable(q string) (at int64, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	at = -1
	for _, kind := range []byte{pReady, pLeased} {
		p := queuePrefix(kind, q)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: s.heads.start(p), UpperBound: prefixEnd(p)})
		if err != nil {
			continue
		}
		if it.First() {
			if a, _ := indexEntry(it.Key(), len(p)); at < 0 || a < at {
				at = a
			}
		}
		it.Close() // #nosec G104 -- read-only iterator; NextAvailable is only a hint for when to try a lease, which reads again
	}
	return at, at >= 0
}

// Source returns a source's config (a copy, from memory).
func (s *Store) Source(name string) (*pb.SourceConfig, error) {
	cfg, ok := s.cfgs.get(pSourceCfg + name).(*pb.SourceConfig)
	if !ok {
		return nil, ErrSourceNotFound
	}
	return proto.CloneOf(cfg), nil
}

// Sources lists every source by name.
func (s *Store) Sources() (map[string]*pb.SourceConfig, []string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]*pb.SourceConfig{}
	var names []string
	var err error
	iterate(s.db, []byte(pSourceCfg), func(k, v []byte) bool {
		cfg := &pb.SourceConfig{}
		if err = proto.Unmarshal(v, cfg); err != nil {
			return false
		}
		name := string(k[len(pSourceCfg):])
		out[name] = cfg
		names = append(names, name)
		return true
	})
	return out, names, err
}

// Tokens lists every token record by name.
func (s *Store) Tokens() ([]*pb.TokenRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*pb.TokenRecord
	var err error
	iterate(s.db, []byte(pToken), func(_, v []byte) bool {
		t := &pb.TokenRecord{}
		if err = proto.Unmarshal(v, t); err != nil {
			return false
		}
		out = append(out, t)
		return true
	})
	return out, err
}

// TokenBySecret finds the token whose SHA-256 is that of secret (a copy,
// from memory).
func (s *Store) TokenBySecret(secret string) (*pb.TokenRecord, bool) {
	sum := sha256.Sum256([]byte(secret))
	s.cfgs.mu.RLock()
	defer s.cfgs.mu.RUnlock()
	name, ok := s.cfgs.m[pTokenHash+hex.EncodeToString(sum[:])].(string)
	if !ok {
		return nil, false
	}
	t, ok := s.cfgs.m[pToken+name].(*pb.TokenRecord)
	if !ok {
		return nil, false
	}
	return proto.CloneOf(t), true
}

// Nodes lists the node records, by id.
func (s *Store) Nodes() ([]*pb.NodeRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*pb.NodeRecord
	var err error
	iterate(s.db, []byte(pNode), func(_, v []byte) bool {
		n := &pb.NodeRecord{}
		if err = proto.Unmarshal(v, n); err != nil {
			return false
		}
		out = append(out, n)
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out, err
}

// Message returns a live (non-tombstone) message of q and its body.
func (s *Store) Message(q, id string) (*pb.MessageRecord, []byte, error) {
	seq, ok := ParseMessageID(id)
	if !ok {
		return nil, nil, ErrMessageNotFound
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.HasQueue(q) {
		return nil, nil, ErrQueueNotFound
	}
	rec := &pb.MessageRecord{}
	ok, err := getProto(s.db, msgKey(pMsg, q, seq), rec)
	if err != nil {
		return nil, nil, err
	}
	if !ok || rec.State == pb.MessageState_TOMBSTONE {
		return nil, nil, ErrMessageNotFound
	}
	body, _, err := getBytes(s.db, msgKey(pBody, q, seq))
	return rec, body, err
}

// LeaseEnd answers, for the delivery deliveryID of queue q, whether it
// still holds its message's lease at now (LeasedBy) and until when. A
// delivery, message or queue that does not exist holds no lease; err is
// only a failed read.
func (s *Store) LeaseEnd(q, deliveryID string, now int64) (int64, bool, error) {
	seq, attempt, rnd, ok := parseDeliveryID(deliveryID)
	if !ok {
		return 0, false, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.HasQueue(q) {
		return 0, false, nil
	}
	rec := &pb.MessageRecord{}
	ok, err := getProto(s.db, msgKey(pMsg, q, seq), rec)
	if err != nil || !ok {
		return 0, false, err
	}
	if d := deliveryOf(rec, attempt, rnd); d != nil && LeasedBy(rec, d, now) {
		return rec.AvailableUnixNano, true, nil
	}
	return 0, false, nil
}

// Messages lists q's messages newest first, filtered by view state (""
// for all), after the cursor messageId, at most limit (<= 0: no limit).
// next is the cursor of the following page, "" when nothing follows.
func (s *Store) Messages(q, state string, limit int, after string, now int64) ([]*pb.MessageRecord, string, error) {
	p := queuePrefix(pMsg, q)
	upper := prefixEnd(p)
	if after != "" {
		seq, ok := ParseMessageID(after)
		if !ok {
			return nil, "", ErrBadCursor
		}
		upper = msgKey(pMsg, q, seq)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.HasQueue(q) {
		return nil, "", ErrQueueNotFound
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upper})
	if err != nil {
		return nil, "", fmt.Errorf("storage: iter: %w", err)
	}
	defer it.Close()
	var out []*pb.MessageRecord
	next := ""
	for it.Last(); it.Valid(); it.Prev() {
		rec := &pb.MessageRecord{}
		if err := proto.Unmarshal(it.Value(), rec); err != nil {
			return nil, "", fmt.Errorf("storage: decode message: %w", err)
		}
		vs := ViewState(rec, now)
		if vs == "" || (state != "" && vs != state) {
			continue
		}
		if limit > 0 && len(out) == limit {
			next = MessageID(out[len(out)-1].Seq)
			break
		}
		out = append(out, rec)
	}
	return out, next, nil
}
