package storage

import (
	"bytes"
	"sync"
)

// Index heads. The ready, lease, GC and dedup-expiry indexes are consumed
// from their low end, so their first live key sits behind a growing run of
// deleted keys until compaction; seeking from the index start would walk
// all of them on every lease. A head hint is a key that no live key under
// its index prefix sorts before: scans start there.
//
// Hints are memory only and affect only where scans start, never what
// they find. A prefix without a hint is scanned from its start (its keys
// may predate this process or a restore); a scan that starts at the hint
// raises it to the first live key it finds (or to its upper bound when it
// finds none), and every index write below a hint lowers it (Txn.set).
type heads struct {
	mu  sync.Mutex
	key map[string][]byte
}

func (h *heads) reset() {
	h.mu.Lock()
	h.key = nil
	h.mu.Unlock()
}

// lower notes a live key k under prefix.
func (h *heads) lower(prefix, k []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.key[string(prefix)]; ok && bytes.Compare(k, cur) < 0 {
		h.key[string(prefix)] = append([]byte(nil), k...)
	}
}

// raise notes that no live key under prefix sorts before k: only a scan
// that started at start(prefix) may say so.
func (h *heads) raise(prefix, k []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.key == nil {
		h.key = map[string][]byte{}
	}
	if cur, ok := h.key[string(prefix)]; !ok || bytes.Compare(k, cur) > 0 {
		h.key[string(prefix)] = append([]byte(nil), k...)
	}
}

// start is where a scan of prefix begins.
func (h *heads) start(prefix []byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k, ok := h.key[string(prefix)]; ok {
		return append([]byte(nil), k...)
	}
	return append([]byte(nil), prefix...)
}

// noteIndexWrite lowers the hint of an index key being written.
func (h *heads) noteIndexWrite(k []byte) {
	if len(k) == 0 {
		return
	}
	switch k[0] {
	case pReady, pLeased, pGC:
		if len(k) >= 18 {
			h.lower(k[:len(k)-16], k)
		}
	case pDedupExp:
		h.lower(k[:1], k)
	}
}
