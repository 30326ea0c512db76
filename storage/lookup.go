package storage

import (
	"sort"
	"strings"

	pb "github.com/hookq/hookq/proto/raftcmd"
)

// HasQueue reports whether queue name exists (from memory; no stats).
func (s *Store) HasQueue(name string) bool {
	return s.cfgs.get(pQueueCfg+name) != nil
}

// IsDeadLetterQueue reports whether a queue other than q names q as its
// dead-letter queue (from memory; no stats are read).
func (s *Store) IsDeadLetterQueue(q string) bool {
	s.cfgs.mu.RLock()
	defer s.cfgs.mu.RUnlock()
	for k, v := range s.cfgs.m {
		if cfg, ok := v.(*pb.QueueConfig); ok && cfg.DeadLetterQueue == q && k != pQueueCfg+q {
			return true
		}
	}
	return false
}

// queueNames lists every queue, sorted (from memory).
func (s *Store) queueNames() []string {
	s.cfgs.mu.RLock()
	var names []string
	for k := range s.cfgs.m {
		if strings.HasPrefix(k, pQueueCfg) {
			names = append(names, k[len(pQueueCfg):])
		}
	}
	s.cfgs.mu.RUnlock()
	sort.Strings(names)
	return names
}
