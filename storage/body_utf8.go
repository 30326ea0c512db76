package storage

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"
)

// BodyUTF8 says whether the stored body of message seq of queue q is
// valid UTF-8, which decides the message's encoding in listings ("utf8"
// or "base64"). The body is read in place, not copied; a message without
// a body (none stored) counts as valid.
func (s *Store) BodyUTF8(q string, seq uint64) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, c, err := s.db.Get(msgKey(pBody, q, seq))
	if errors.Is(err, pebble.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: get body: %w", err)
	}
	defer c.Close()
	return utf8.Valid(v), nil
}
