package storage

import (
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/protobuf/proto"
)

// Configs in memory. Queue configs, source configs and tokens change
// rarely and are read on every webhook, lease and settle, so the store
// keeps a decoded copy of every key under those prefixes (cq, cs, ct, ch)
// next to Pebble. Pebble stays the record: the copy is rebuilt from it
// when the store opens and after a snapshot restore, and a transaction's
// config writes reach it only when the transaction commits (in Commit,
// after the Pebble batch is in, before Commit returns), so every replica's
// copy equals its own database at every applied index. A transaction
// reads its own uncommitted config writes first (Txn.cfgWrites).
//
// Cached values are shared and never modified: everything in storage
// treats a config it read as read-only, and what leaves the package is a
// clone.
type configs struct {
	mu sync.RWMutex
	// m maps a full key to its decoded value: *pb.QueueConfig (cq),
	// *pb.SourceConfig (cs), *pb.TokenRecord (ct) or the token name (ch).
	m map[string]any
}

// cfgPrefixes are the key prefixes held in memory.
var cfgPrefixes = []string{pQueueCfg, pSourceCfg, pToken, pTokenHash}

// isCachedCfg reports whether key k is held in memory.
func isCachedCfg(k []byte) bool {
	if len(k) < 2 || k[0] != 'c' {
		return false
	}
	switch k[1] {
	case pQueueCfg[1], pSourceCfg[1], pToken[1], pTokenHash[1]:
		return true
	}
	return false
}

// decodeCfg decodes the stored value v of config key k.
func decodeCfg(k, v []byte) (any, error) {
	var m proto.Message
	switch string(k[:2]) {
	case pQueueCfg:
		m = &pb.QueueConfig{}
	case pSourceCfg:
		m = &pb.SourceConfig{}
	case pToken:
		m = &pb.TokenRecord{}
	case pTokenHash:
		return string(v), nil
	default:
		return nil, fmt.Errorf("storage: %q is not a config key", k)
	}
	if err := proto.Unmarshal(v, m); err != nil {
		return nil, fmt.Errorf("storage: decode %q: %w", k, err)
	}
	return m, nil
}

// load replaces the whole copy with what r holds.
func (c *configs) load(r pebble.Reader) error {
	m, err := decodeCfgs(r)
	if err != nil {
		return err
	}
	c.set(m)
	return nil
}

// set replaces the whole copy with m (from decodeCfgs).
func (c *configs) set(m map[string]any) {
	c.mu.Lock()
	c.m = m
	c.mu.Unlock()
}

// decodeCfgs decodes every config key r holds.
func decodeCfgs(r pebble.Reader) (map[string]any, error) {
	m := map[string]any{}
	var err error
	for _, p := range cfgPrefixes {
		iterate(r, []byte(p), func(k, v []byte) bool {
			var d any
			if d, err = decodeCfg(k, v); err != nil {
				return false
			}
			m[string(k)] = d
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// get returns the value of config key k, or nil.
func (c *configs) get(k string) any {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[k]
}

// cfgWrite is one config key a transaction set (value decoded) or
// deleted (value nil).
type cfgWrite struct {
	key   string
	value any
}

// apply makes a committed transaction's config writes visible, in order.
func (c *configs) apply(ws []cfgWrite) {
	if len(ws) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]any{}
	}
	for _, w := range ws {
		if w.value == nil {
			delete(c.m, w.key)
		} else {
			c.m[w.key] = w.value
		}
	}
}

// cfg reads config key k as the transaction sees it: its own writes
// first, then the committed copy.
func (t *Txn) cfg(k string) any {
	if v, ok := t.cfgOverlay[k]; ok {
		return v
	}
	return t.s.cfgs.get(k)
}

// noteCfgWrite records a write of key k (v nil: a delete) for the copy.
func (t *Txn) noteCfgWrite(k, v []byte, del bool) {
	if !isCachedCfg(k) {
		return
	}
	var d any
	if !del {
		var err error
		if d, err = decodeCfg(k, v); err != nil {
			panic(err) // storage wrote it a moment ago with marshal
		}
	}
	if t.cfgOverlay == nil {
		t.cfgOverlay = map[string]any{}
	}
	t.cfgOverlay[string(k)] = d
	t.cfgWrites = append(t.cfgWrites, cfgWrite{key: string(k), value: d})
}
