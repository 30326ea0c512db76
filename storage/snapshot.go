package storage

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// snapshotMagic opens every snapshot stream; the version is part of it.
const snapshotMagic = "hookq-snapshot-v1\n"

// maxSnapshotField bounds one key or value of a snapshot stream: far above
// the largest record (a body: 16 MiB at most), so a corrupt length fails
// the restore instead of allocating. Fields are read in chunks, so memory
// grows with the bytes actually present, never with the claimed length.
const (
	maxSnapshotField = 256 << 20
	fieldChunk       = 1 << 20
)

// Snapshot is a point-in-time view of the store, cheap to take; WriteTo
// streams it as length-prefixed key/value records.
type Snapshot struct {
	s    *Store
	snap *pebble.Snapshot
}

// Snapshot takes a Pebble snapshot. It holds the store's read lock until
// Release, so a Restore waits for an in-progress stream to finish.
func (s *Store) Snapshot() *Snapshot {
	s.mu.RLock()
	return &Snapshot{s: s, snap: s.db.NewSnapshot()}
}

// WriteTo streams every record: magic, then (uvarint len, key, uvarint len,
// value)*, then a zero length.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := &countWriter{w: bw}
	if _, err := io.WriteString(cw, snapshotMagic); err != nil {
		return cw.n, err
	}
	it, err := sn.snap.NewIter(nil)
	if err != nil {
		return cw.n, fmt.Errorf("storage: snapshot iter: %w", err)
	}
	defer it.Close()
	var lenBuf [binary.MaxVarintLen64]byte
	for it.First(); it.Valid(); it.Next() {
		for _, b := range [][]byte{it.Key(), it.Value()} {
			n := binary.PutUvarint(lenBuf[:], uint64(len(b)))
			if _, err := cw.Write(lenBuf[:n]); err != nil {
				return cw.n, err
			}
			if _, err := cw.Write(b); err != nil {
				return cw.n, err
			}
		}
	}
	if _, err := cw.Write([]byte{0}); err != nil {
		return cw.n, err
	}
	return cw.n, bw.Flush()
}

// Release frees the snapshot.
func (sn *Snapshot) Release() {
	if sn.snap != nil {
		sn.snap.Close() // #nosec G104 -- pebble's Snapshot.Close always returns nil
		sn.snap = nil
		sn.s.mu.RUnlock()
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Restore loads a snapshot stream into a fresh directory, makes it durable,
// then swaps it in for the current database and removes the old one.
func (s *Store) Restore(r io.Reader) error {
	s.mu.RLock()
	gen := s.gen + 1
	s.mu.RUnlock()
	br := bufio.NewReaderSize(r, 1<<20)
	if err := readMagic(br); err != nil {
		return err
	}
	path := genDir(s.dir, gen)
	if err := s.removeAll(path); err != nil {
		return fmt.Errorf("storage: restore: %w", err)
	}
	db, err := openPebble(path, s.mem)
	if err != nil {
		return err
	}
	if err := load(db, br); err != nil {
		db.Close()        // #nosec G104 -- cleanup of a failed restore: the load error is the one to report
		s.removeAll(path) // #nosec G104 -- best effort: the next restore removes path before using it
		return err
	}
	if err := db.LogData(nil, pebble.Sync); err != nil {
		db.Close() // #nosec G104 -- cleanup of a failed restore: the sync error is the one to report
		return fmt.Errorf("storage: restore sync: %w", err)
	}
	// Decode the configs before the swap: a snapshot whose configs do not
	// decode is refused like one that does not read, and the store keeps
	// its database and its copy of that database's configs.
	cfgs, err := decodeCfgs(db)
	if err != nil {
		db.Close()        // #nosec G104 -- cleanup of a failed restore: the decode error is the one to report
		s.removeAll(path) // #nosec G104 -- best effort: the next restore removes path before using it
		return fmt.Errorf("storage: restore: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, oldGen := s.db, s.gen
	s.db, s.gen = db, gen
	s.heads.reset()
	s.cfgs.set(cfgs)
	if err := s.writeCurrent(); err != nil {
		return err
	}
	old.Close() // #nosec G104 -- the new database is live and CURRENT names it; the replaced one is deleted next, nothing to recover
	return s.removeAll(genDir(s.dir, oldGen))
}

// removeAll removes a database directory, on disk or in memory.
func (s *Store) removeAll(path string) error {
	if s.mem != nil {
		return s.mem.RemoveAll(path)
	}
	return os.RemoveAll(path)
}

func readMagic(r *bufio.Reader) error {
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != snapshotMagic {
		return fmt.Errorf("storage: restore: not a hookq snapshot")
	}
	return nil
}

// load writes the records after the magic into db.
func load(db *pebble.DB, r *bufio.Reader) error {
	b := db.NewBatch()
	defer func() { b.Close() }() // #nosec G104 -- pebble's Batch.Close only fails on a second Close
	err := readRecords(r, func(k, v []byte) error {
		if err := b.Set(k, v, nil); err != nil {
			return fmt.Errorf("storage: restore: %w", err)
		}
		if b.Len() >= 4<<20 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return fmt.Errorf("storage: restore: %w", err)
			}
			b.Close() // #nosec G104 -- committed above; Batch.Close only fails on a second Close
			b = db.NewBatch()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("storage: restore: %w", err)
	}
	return nil
}

// readRecords calls put for each record after the magic, up to the zero
// length that ends the stream.
func readRecords(r *bufio.Reader, put func(k, v []byte) error) error {
	for {
		k, err := readField(r)
		if err != nil || k == nil {
			return err
		}
		v, err := readField(r)
		if err != nil {
			return err
		}
		if err := put(k, v); err != nil {
			return err
		}
	}
}

// readField reads one length-prefixed field; a zero length key ends the
// stream (nil, nil).
func readField(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("storage: restore: truncated snapshot: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	if n > maxSnapshotField {
		return nil, errors.New("storage: restore: corrupt snapshot record")
	}
	buf := make([]byte, 0, min(n, fieldChunk))
	for uint64(len(buf)) < n {
		m := min(n-uint64(len(buf)), fieldChunk)
		buf = slices.Grow(buf, int(m))
		if _, err := io.ReadFull(r, buf[len(buf):len(buf)+int(m)]); err != nil {
			return nil, fmt.Errorf("storage: restore: truncated snapshot: %w", err)
		}
		buf = buf[:len(buf)+int(m)]
	}
	return buf, nil
}

// Digest is a SHA-256 over every key and value in order: two stores with the
// same digest hold byte-identical contents.
func (s *Store) Digest() (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return digest(s.db)
}

// Digest is the Store.Digest the store would have if the transaction
// committed now (for comparing replicas without committing).
func (t *Txn) Digest() (string, error) {
	t.writeMeta()
	return digest(t.b)
}

func digest(r pebble.Reader) (string, error) {
	h := sha256.New()
	it, err := r.NewIter(nil)
	if err != nil {
		return "", err
	}
	defer it.Close()
	var lenBuf [binary.MaxVarintLen64]byte
	for it.First(); it.Valid(); it.Next() {
		for _, b := range [][]byte{it.Key(), it.Value()} {
			h.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(b)))])
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
