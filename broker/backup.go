package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"github.com/hookq/hookq/storage"
	"go.etcd.io/bbolt"
)

// Backup is a consistent point-in-time view of a node's state, taken
// after the node caught up with the leader; WriteTo streams it as the
// store's snapshot stream (the same stream Raft snapshots carry). Release
// it when done: until then a snapshot install on this node waits.
type Backup struct {
	snap    *storage.Snapshot
	Node    string // the node that took it
	Release string // its hookq release
}

// WriteTo streams the snapshot.
func (bk *Backup) WriteTo(w io.Writer) (int64, error) { return bk.snap.WriteTo(w) }

// Close releases the snapshot.
func (bk *Backup) Close() error {
	bk.snap.Release()
	return nil
}

// Backup takes a backup on this node. A follower first applies everything
// the leader had committed when asked (a read index), so the backup holds
// every write acknowledged before the call; without a leader it answers
// ErrUnavailable.
func (b *Broker) Backup(ctx context.Context) (*Backup, error) {
	if err := b.syncWithLeader(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Backup{snap: b.store.Snapshot(), Node: b.cfg.NodeID, Release: b.cfg.Version}, nil
}

// Seed makes dataDir, which must hold no node state, into the data dir of
// node nodeID at raftAddr holding the state of snapshot stream r (a
// Backup's). Started, the node leads a new cluster of one voter, itself;
// others may --join it. The old cluster's node records are dropped (each
// node records itself again). It returns the applied index of the state.
func Seed(dataDir, nodeID, raftAddr string, r io.Reader) (uint64, error) {
	for _, sub := range []string{"raft", "fsm"} {
		if _, err := os.Stat(filepath.Join(dataDir, sub)); !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("broker: seed: %s already holds node state (%s/): restore into a fresh data dir", dataDir, sub)
		}
	}
	if err := checkDataFormat(dataDir); err != nil {
		return 0, err
	}
	store, err := storage.Open(filepath.Join(dataDir, "fsm"))
	if err != nil {
		return 0, err
	}
	defer store.Close()
	if err := store.Restore(r); err != nil {
		return 0, fmt.Errorf("broker: seed: %w", err)
	}
	applied := store.AppliedIndex()
	if applied == 0 {
		return 0, fmt.Errorf("broker: seed: the snapshot has no applied index")
	}
	if err := dropNodeRecords(store, applied); err != nil {
		return 0, err
	}

	raftDir := filepath.Join(dataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return 0, fmt.Errorf("broker: seed: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 2, hclog.NewNullLogger())
	if err != nil {
		return 0, fmt.Errorf("broker: seed: %w", err)
	}
	// Term 1 at the state's applied index, with this node as the only
	// voter: Raft starts from the snapshot (the store is already at its
	// index, so nothing is replayed) and elects the node.
	const term = 1
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(nodeID), Address: raft.ServerAddress(raftAddr)}}}
	// The store encodes the legacy peer list with a transport; an
	// in-memory one encodes addresses as they are.
	_, trans := raft.NewInmemTransport(raft.ServerAddress(raftAddr))
	defer trans.Close()
	sink, err := snaps.Create(raft.SnapshotVersionMax, applied, term, conf, applied, trans)
	if err != nil {
		return 0, fmt.Errorf("broker: seed: %w", err)
	}
	snap := store.Snapshot()
	_, err = snap.WriteTo(sink)
	snap.Release()
	if err != nil {
		sink.Cancel() // #nosec G104 -- the write error is the one reported; Cancel only discards the partial snapshot
		return 0, fmt.Errorf("broker: seed: snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return 0, fmt.Errorf("broker: seed: snapshot: %w", err)
	}
	logs, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(raftDir, "raft.db"),
		BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
	})
	if err != nil {
		return 0, fmt.Errorf("broker: seed: raft log: %w", err)
	}
	// Raft's own key for the current term.
	err = logs.SetUint64([]byte("CurrentTerm"), term)
	if cerr := logs.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("broker: seed: raft log: %w", err)
	}
	return applied, store.Sync()
}

// dropNodeRecords deletes every node record, keeping the applied index.
func dropNodeRecords(store *storage.Store, applied uint64) error {
	nodes, err := store.Nodes()
	if err != nil {
		return fmt.Errorf("broker: seed: %w", err)
	}
	if len(nodes) == 0 {
		return nil
	}
	txn := store.Begin()
	txn.SetEntry(applied, 0)
	for _, n := range nodes {
		if r := txn.DeleteNode(&pb.DeleteNode{Id: n.Id}); r.Err != nil {
			txn.Discard()
			return fmt.Errorf("broker: seed: %w", r.Err)
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("broker: seed: %w", err)
	}
	return store.Sync()
}
