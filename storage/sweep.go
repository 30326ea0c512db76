package storage

import (
	"encoding/binary"
	"sort"

	"github.com/cockroachdb/pebble/v2"
	pb "github.com/hookq/hookq/proto/raftcmd"
)

// Sweep ends lapsed leases (dead-lettering those at maxAttempts), collects
// acked messages and tombstones past retention, and drops expired dedup
// entries: at most limit items of each kind. Count is the items handled;
// a Count of limit or more means more may be due.
func (t *Txn) Sweep(op *pb.Sweep) Result {
	if err := checkSweep(op); err != nil {
		return Result{Err: err}
	}
	limit := int(op.Limit)
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	for _, q := range t.queueNames() {
		cfg, _ := t.queue(q)
		n += t.sweepLeases(q, cfg, limit)
		n += t.sweepGC(q, cfg, limit)
	}
	n += t.sweepDedup(limit)
	return Result{Count: n}
}

func (t *Txn) queueNames() []string {
	var names []string
	p := []byte(pQueueCfg)
	t.scan(p, prefixEnd(p), 0, func(k, _ []byte) bool {
		names = append(names, string(k[len(p):]))
		return true
	})
	return names
}

func (t *Txn) dueEntries(kind byte, q string, upTo int64, limit int) []candidate {
	var out []candidate
	p := queuePrefix(kind, q)
	if upTo < 0 {
		return nil
	}
	end := be64(append([]byte(nil), p...), uint64(upTo)+1)
	first := end
	t.scan(t.s.heads.start(p), end, limit, func(k, _ []byte) bool {
		if len(out) == 0 {
			first = append([]byte(nil), k...)
		}
		at, seq := indexEntry(k, len(p))
		out = append(out, candidate{at: at, seq: seq})
		return true
	})
	t.s.heads.raise(p, first)
	return out
}

func (t *Txn) sweepLeases(q string, cfg *pb.QueueConfig, limit int) int64 {
	due := t.dueEntries(pLeased, q, t.now, limit)
	for _, c := range due {
		rec, ok := t.message(q, c.seq)
		if !ok {
			panic("storage: lease index entry without message")
		}
		t.expireLease(q, cfg, rec)
	}
	return int64(len(due))
}

func (t *Txn) sweepGC(q string, cfg *pb.QueueConfig, limit int) int64 {
	due := t.dueEntries(pGC, q, gcBefore(t.now, cfg), limit)
	for _, c := range due {
		rec, ok := t.message(q, c.seq)
		if ok && rec.State == pb.MessageState_ACKED {
			t.stat(q).Acked--
		}
		t.del(msgKey(pMsg, q, c.seq))
		t.del(msgKey(pBody, q, c.seq))
		t.del(indexKey(pGC, q, c.at, c.seq))
	}
	return int64(len(due))
}

// gcBefore is the newest settle time of q's messages due for collection.
func gcBefore(now int64, cfg *pb.QueueConfig) int64 {
	return addSat(now, -max(cfg.RetentionNanos, 0))
}

func (t *Txn) sweepDedup(limit int) int64 {
	start := t.s.heads.start([]byte{pDedupExp})
	end := be64([]byte{pDedupExp}, tsKey(t.now)+1)
	var keys [][]byte
	t.scan(start, end, limit, func(k, _ []byte) bool {
		keys = append(keys, append([]byte(nil), k...))
		return true
	})
	if len(keys) == 0 {
		t.s.heads.raise([]byte{pDedupExp}, end)
	} else {
		t.s.heads.raise([]byte{pDedupExp}, keys[0])
	}
	for _, k := range keys {
		at := tsFromKey(binary.BigEndian.Uint64(k[1:9]))
		rest := k[9:]
		d := &pb.DedupRecord{}
		dk := append([]byte{pDedup}, rest...)
		if ok, err := getProto(t.b, dk, d); err != nil {
			panic(err)
		} else if ok && d.ExpiresUnixNano == at {
			t.del(dk)
		}
		t.del(k)
	}
	return int64(len(keys))
}

// sweepDueBatch is the most queues one SweepDue call looks at: with more
// queues it goes round them over successive calls (the leader's sweeper
// calls it every 200 ms), so an idle node with 10,000 queues does not
// open 20,000 iterators five times a second. Sweeping is housekeeping: a
// lapsed lease is leased again (or dead-lettered) by the next Lease of
// its queue whether or not a sweep ran, and views show it as expired.
const sweepDueBatch = 256

// SweepDue reports whether a Sweep at time now would find work: expired
// dedup entries, or lapsed leases or acked messages past retention in the
// next sweepDueBatch queues of a round over all of them.
func (s *Store) SweepDue(now int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.firstBelow([]byte{pDedupExp}, now) {
		return true
	}
	names := s.queueNames()
	s.sweepMu.Lock()
	from := sort.SearchStrings(names, s.sweepNext)
	s.sweepMu.Unlock()
	for i := 0; i < min(len(names), sweepDueBatch); i++ {
		q := names[(from+i)%len(names)]
		cfg, ok := s.cfgs.get(pQueueCfg + q).(*pb.QueueConfig)
		if !ok {
			continue
		}
		s.sweepMu.Lock()
		s.sweepNext = q + "\x00" // the next call starts after q
		s.sweepMu.Unlock()
		if s.firstBelow(queuePrefix(pLeased, q), now) || s.firstBelow(queuePrefix(pGC, q), gcBefore(now, cfg)) {
			s.sweepMu.Lock()
			s.sweepNext = q // look at it again: one sweep may not finish it
			s.sweepMu.Unlock()
			return true
		}
	}
	return false
}

// firstBelow reports whether the first key under prefix p carries a time
// (the 8 bytes after p) at or below upTo. The caller holds s.mu.
func (s *Store) firstBelow(p []byte, upTo int64) bool {
	if upTo < 0 {
		return false
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: s.heads.start(p), UpperBound: be64(append([]byte(nil), p...), uint64(upTo)+1)})
	if err != nil {
		return false
	}
	defer it.Close()
	return it.First()
}

// iterate calls fn over every key with prefix p until fn returns false.
func iterate(r pebble.Reader, p []byte, fn func(k, v []byte) bool) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if !fn(it.Key(), it.Value()) {
			return
		}
	}
}
