package storage

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	pb "github.com/hookq/hookq/proto/raftcmd"
)

// maxMessagesPerEntry bounds the messages one Raft entry may create: a
// message's seq is index<<seqShift | n.
const (
	seqShift            = 20
	maxMessagesPerEntry = 1<<seqShift - 1
)

// Txn applies operations to one indexed Pebble batch. Only one Txn may be
// open at a time (the FSM goroutine); Commit writes it atomically together
// with the applied index.
type Txn struct {
	s     *Store
	b     *pebble.Batch
	now   int64
	index uint64 // Raft index of the entry being applied
	n     uint64 // messages created by this entry so far
	stats map[string]*pb.QueueStats
	// woken collects queues that gained available messages, for waiters.
	woken map[string]struct{}
	// cfgOverlay and cfgWrites are this transaction's config writes, read
	// before the store's copy and applied to it by Commit (configs.go).
	cfgOverlay map[string]any
	cfgWrites  []cfgWrite
	cfgReload  bool // a range delete reached config keys: reload the copy
}

// Begin opens a transaction. It holds the store's read lock until Commit or
// Discard, so a Restore cannot swap the database underneath it.
func (s *Store) Begin() *Txn {
	s.mu.RLock()
	t := &Txn{s: s, b: s.db.NewIndexedBatch(), stats: map[string]*pb.QueueStats{}, woken: map[string]struct{}{}}
	t.now = tsFromKey(readU64(t.b, keyTime))
	return t
}

// SetEntry starts applying Raft entry index whose leader time is
// leaderTime. The state machine's clock never goes backwards.
func (t *Txn) SetEntry(index uint64, leaderTime int64) {
	t.index, t.n = index, 0
	if leaderTime > t.now {
		t.now = leaderTime
	}
}

// Now is the state machine's time for the current entry.
func (t *Txn) Now() int64 { return t.now }

func (t *Txn) nextSeq() (uint64, bool) {
	if t.n >= maxMessagesPerEntry {
		return 0, false
	}
	t.n++
	return t.index<<seqShift | t.n, true
}

// Woken lists, sorted, the queues that gained available messages.
func (t *Txn) Woken() []string {
	out := make([]string, 0, len(t.woken))
	for q := range t.woken {
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

// Commit writes the stats touched, the applied index and the clock, then
// commits the batch without fsync (the Raft log is the durable record).
func (t *Txn) Commit() error {
	defer t.s.mu.RUnlock()
	defer t.b.Close()
	t.writeMeta()
	if err := t.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("storage: commit: %w", err)
	}
	if t.cfgReload {
		return t.s.cfgs.load(t.s.db)
	}
	t.s.cfgs.apply(t.cfgWrites)
	return nil
}

// writeMeta writes the stats touched, the applied index and the clock into
// the batch (again at each call: later operations may change them).
func (t *Txn) writeMeta() {
	names := make([]string, 0, len(t.stats))
	for q := range t.stats {
		names = append(names, q)
	}
	sort.Strings(names)
	for _, q := range names {
		if st := t.stats[q]; st != nil {
			t.set(cfgKey(pStats, q), marshal(st))
		}
	}
	t.set(keyApplied, binary.BigEndian.AppendUint64(nil, t.index))
	t.set(keyTime, binary.BigEndian.AppendUint64(nil, tsKey(t.now)))
}

// Discard abandons the transaction. Its scans may have raised scan hints
// past keys that only its batch deleted: drop every hint (scans then start
// from their index's beginning until raised again).
func (t *Txn) Discard() {
	t.s.heads.reset()
	t.b.Close() // #nosec G104 -- pebble's Batch.Close only fails on a second Close; the batch is dropped uncommitted
	t.s.mu.RUnlock()
}

// set and del panic on error: a failing in-memory batch write means the
// process cannot make progress safely.
func (t *Txn) set(k, v []byte) {
	t.s.heads.noteIndexWrite(k)
	if err := t.b.Set(k, v, nil); err != nil {
		panic(fmt.Sprintf("storage: batch set: %v", err))
	}
	t.noteCfgWrite(k, v, false)
}

func (t *Txn) del(k []byte) {
	if err := t.b.Delete(k, nil); err != nil {
		panic(fmt.Sprintf("storage: batch delete: %v", err))
	}
	t.noteCfgWrite(k, nil, true)
}

func (t *Txn) delRange(start, end []byte) {
	if err := t.b.DeleteRange(start, end, nil); err != nil {
		panic(fmt.Sprintf("storage: batch delete range: %v", err))
	}
	// Config keys all start with 'c'; message ranges never reach them.
	if len(start) == 0 || start[0] <= 'c' && (len(end) == 0 || end[0] >= 'c') {
		t.cfgReload = true
	}
}

// queue returns a queue's config (from memory; read-only).
func (t *Txn) queue(name string) (*pb.QueueConfig, bool) {
	if t.cfgReload {
		cfg := &pb.QueueConfig{}
		ok, err := getProto(t.b, cfgKey(pQueueCfg, name), cfg)
		if err != nil {
			panic(err)
		}
		return cfg, ok
	}
	cfg, ok := t.cfg(pQueueCfg + name).(*pb.QueueConfig)
	return cfg, ok
}

// stat returns the (cached, mutable) counters of queue q.
func (t *Txn) stat(q string) *pb.QueueStats {
	if st, ok := t.stats[q]; ok && st != nil {
		return st
	}
	st := &pb.QueueStats{}
	if _, err := getProto(t.b, cfgKey(pStats, q), st); err != nil {
		panic(err)
	}
	t.stats[q] = st
	return st
}

func (t *Txn) message(q string, seq uint64) (*pb.MessageRecord, bool) {
	rec := &pb.MessageRecord{}
	ok, err := getProto(t.b, msgKey(pMsg, q, seq), rec)
	if err != nil {
		panic(err)
	}
	return rec, ok
}

func (t *Txn) putMessage(q string, rec *pb.MessageRecord) {
	t.set(msgKey(pMsg, q, rec.Seq), marshal(rec))
}

// scan calls fn for keys in [start, end) until fn returns false or limit
// keys were visited (limit <= 0: no limit). It reads the batch as of the
// call: fn may write, and later scans see those writes.
func (t *Txn) scan(start, end []byte, limit int, fn func(k, v []byte) bool) {
	it, err := t.b.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		panic(fmt.Sprintf("storage: iter: %v", err))
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		if limit > 0 && n >= limit {
			return
		}
		n++
		if !fn(it.Key(), it.Value()) {
			return
		}
	}
}
