package storage

// HasQueue reports whether queue name exists (a point read; no stats).
func (s *Store) HasQueue(name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok, err := getBytes(s.db, cfgKey(pQueueCfg, name))
	return ok && err == nil
}
