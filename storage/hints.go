package storage

import (
	"encoding/binary"
	"sync"
)

// Index heads. The ready, lease, GC and dedup-expiry indexes are consumed
// from their low end, so their first live key sits behind a growing run of
// deleted keys until compaction; seeking from the index start would walk
// all of them on every lease. A head hint is a lower bound on the time of
// every live key under an index prefix: scans start there.
//
// Hints are memory only and affect only where scans start, never what
// they find: every index write lowers its hint (Txn.set), and a scan that
// finds its first live key at t (or none up to t) raises the hint to t.
type heads struct {
	mu sync.Mutex
	at map[string]int64
}

func (h *heads) reset() {
	h.mu.Lock()
	h.at = nil
	h.mu.Unlock()
}

// lower notes a live key at time at under prefix. A prefix without a hint
// is scanned from its start (its keys may predate this process or a
// restore), so lower only ever moves an existing hint.
func (h *heads) lower(prefix []byte, at int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.at[string(prefix)]; ok && at < cur {
		h.at[string(prefix)] = at
	}
}

// raise notes that no live key under prefix is earlier than at: only a
// scan that started at the prefix's hint (or its start) may say so.
func (h *heads) raise(prefix []byte, at int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.at == nil {
		h.at = map[string]int64{}
	}
	if cur, ok := h.at[string(prefix)]; !ok || at > cur {
		h.at[string(prefix)] = at
	}
}

// start is where a scan of prefix begins.
func (h *heads) start(prefix []byte) []byte {
	h.mu.Lock()
	at, ok := h.at[string(prefix)]
	h.mu.Unlock()
	k := append([]byte(nil), prefix...)
	if !ok || at < 0 {
		return k
	}
	return be64(k, uint64(at))
}

// noteIndexWrite lowers the hint of an index key being written.
func (h *heads) noteIndexWrite(k []byte) {
	if len(k) == 0 {
		return
	}
	switch k[0] {
	case pReady, pLeased, pGC:
		if len(k) >= 18 {
			h.lower(k[:len(k)-16], int64(binary.BigEndian.Uint64(k[len(k)-16:])))
		}
	case pDedupExp:
		if len(k) >= 9 {
			h.lower(k[:1], int64(binary.BigEndian.Uint64(k[1:9])))
		}
	}
}
