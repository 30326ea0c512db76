package storage

// HasQueue reports whether queue name exists (from memory; no stats).
func (s *Store) HasQueue(name string) bool {
	return s.cfgs.get(pQueueCfg+name) != nil
}
