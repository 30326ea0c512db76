package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/protobuf/proto"
)

// Store is one node's Pebble database. Transitions go through Txn (one
// caller at a time: the Raft FSM); reads are safe from any goroutine.
type Store struct {
	dir string
	mem vfs.FS // set by OpenMem: the database lives in memory, no files

	// mu guards db: readers and snapshots hold it shared, Restore swaps the
	// database holding it exclusively. Never take it twice in one call path.
	mu  sync.RWMutex
	db  *pebble.DB
	gen int // generation of the data directory in use (dir/db-<gen>)

	heads heads   // scan start hints of the consumed-from-the-front indexes
	cfgs  configs // queue, source and token configs in memory (configs.go)

	sweepMu   sync.Mutex
	sweepNext string // SweepDue's round over the queues resumes here
}

const currentFile = "CURRENT"

// Open opens (or creates) the store under dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	gen := 0
	if b, err := os.ReadFile(filepath.Join(dir, currentFile)); err == nil { // #nosec G304 -- CURRENT inside the operator's --data-dir
		if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "db-%d", &gen); err != nil {
			return nil, fmt.Errorf("storage: bad %s file: %q", currentFile, b)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("storage: %w", err)
	}
	db, err := openPebble(genDir(dir, gen), nil)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, db: db, gen: gen}
	if err := s.cfgs.load(db); err != nil {
		db.Close() // #nosec G104 -- cleanup on a failed Open: the load error is the one to report
		return nil, err
	}
	if err := s.writeCurrent(); err != nil {
		db.Close() // #nosec G104 -- cleanup on a failed Open: the writeCurrent error is the one to report
		return nil, err
	}
	return s, nil
}

// OpenMem opens an empty store held in memory (Pebble over vfs.NewMem):
// the same state machine without files, for tests and fakes. Its state is
// gone when it is closed.
func OpenMem() (*Store, error) {
	fs := vfs.NewMem()
	db, err := openPebble(genDir("", 0), fs)
	if err != nil {
		return nil, err
	}
	return &Store{mem: fs, db: db}, nil
}

func genDir(dir string, gen int) string { return filepath.Join(dir, fmt.Sprintf("db-%d", gen)) }

// openPebble opens the database at path, on fs when it is not nil (the
// disk otherwise).
func openPebble(path string, fs vfs.FS) (*pebble.DB, error) {
	// A 64 MiB block cache (Pebble's default is 8 MiB): leases read the
	// records and bodies of messages that have often been flushed already.
	opts := &pebble.Options{Logger: quietLogger{}, MemTableSize: 32 << 20, CacheSize: 64 << 20, FS: fs}
	// Bloom filters make the point reads of every op (configs, counters,
	// messages, dedup keys) skip tables that cannot hold the key.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	return db, nil
}

// writeCurrent atomically records which generation directory is live.
func (s *Store) writeCurrent() error {
	if s.mem != nil {
		return nil
	}
	tmp := filepath.Join(s.dir, currentFile+".tmp")
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("db-%d\n", s.gen)), 0o600); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	f, err := os.Open(tmp) // #nosec G304 -- CURRENT.tmp inside --data-dir, just written above
	if err == nil {
		err = f.Sync()
		f.Close() // #nosec G104 -- Close of a read-only handle opened only to fsync; the Sync error is checked
	}
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, currentFile)); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- a directory inside --data-dir, opened only to fsync it
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// Sync makes every write so far durable (Pebble writes with NoSync because
// the Raft log is the durable record; this is called before a snapshot lets
// Raft truncate that log).
func (s *Store) Sync() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.LogData(nil, pebble.Sync)
}

// AppliedIndex is the last Raft index whose effects are in the store.
func (s *Store) AppliedIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return readU64(s.db, keyApplied)
}

// LastTime is the state machine's clock: the largest command time applied.
func (s *Store) LastTime() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return tsFromKey(readU64(s.db, keyTime))
}

func readU64(g pebble.Reader, key []byte) uint64 {
	v, c, err := g.Get(key)
	if err != nil {
		return 0
	}
	defer c.Close()
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// getProto reads key into m; found is false when the key is absent.
func getProto(r pebble.Reader, key []byte, m proto.Message) (bool, error) {
	v, c, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: get: %w", err)
	}
	defer c.Close()
	if err := proto.Unmarshal(v, m); err != nil {
		return false, fmt.Errorf("storage: decode %q: %w", key, err)
	}
	return true, nil
}

func getBytes(r pebble.Reader, key []byte) ([]byte, bool, error) {
	v, c, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("storage: get: %w", err)
	}
	defer c.Close()
	return append([]byte(nil), v...), true, nil
}

// marshal encodes deterministically so equal state means equal bytes.
func marshal(m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("storage: marshal %T: %v", m, err))
	}
	return b
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(1)
}
