package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"runtime/metrics"
	"testing"

	pb "github.com/hookq/hookq/proto/raftcmd"
)

// decodeSnapshot reads a snapshot stream the way Restore does and returns
// its records.
func decodeSnapshot(data []byte) ([][2][]byte, error) {
	r := bufio.NewReaderSize(bytes.NewReader(data), 4096)
	if err := readMagic(r); err != nil {
		return nil, err
	}
	var recs [][2][]byte
	err := readRecords(r, func(k, v []byte) error {
		recs = append(recs, [2][]byte{k, v})
		return nil
	})
	return recs, err
}

// allocated is the bytes allocated on the heap so far (no stop-the-world,
// unlike runtime.ReadMemStats).
func allocated() uint64 {
	m := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}

// encodeSnapshot writes records in the documented stream format (magic,
// (uvarint len, key, uvarint len, value)*, zero length).
func encodeSnapshot(recs [][2][]byte) []byte {
	b := []byte(snapshotMagic)
	for _, r := range recs {
		for _, f := range r {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
		}
	}
	return append(b, 0)
}

// Arbitrary bytes into the restore reader: an error, or records that
// encode back to a stream reading as the same records; never a panic, and
// memory bounded by the input, not by what its lengths claim. (Store.Restore
// around this reader swaps the database in only after the whole stream
// read cleanly: TestSnapshotRestoreReproducesContents.)
func FuzzRestoreSnapshot(f *testing.F) {
	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	txn := s.Begin()
	txn.SetEntry(1, 1_000_000)
	txn.PutQueue(&pb.PutQueue{Name: "a", Config: &pb.QueueConfig{MaxAttempts: 2, DeadLetterQueue: "a.dlq"}})
	txn.Enqueue(&pb.Enqueue{Source: "s", Queues: []string{"a"}, Body: []byte("hello"), DedupKey: "k", DedupWindowNanos: 10})
	txn.Lease(&pb.Lease{Queue: "a", DeliveryRands: [][]byte{make([]byte, deliveryRandLen)}})
	if err := txn.Commit(); err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	sn := s.Snapshot()
	if _, err := sn.WriteTo(&buf); err != nil {
		f.Fatal(err)
	}
	sn.Release()
	real := buf.Bytes()
	for _, seed := range [][]byte{
		real, real[:len(real)/2], real[:len(real)-1], []byte(snapshotMagic), []byte(snapshotMagic + "\x00"),
		append([]byte(snapshotMagic), 0xff, 0xff, 0xff, 0xff, 0x0f, 'k'),
		append([]byte(snapshotMagic), 1, 'k', 0x80, 0x80, 0x80, 0x40),
		[]byte("not a snapshot"), nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := allocated()
		recs, err := decodeSnapshot(data)
		if grew, bound := allocated()-before, 4*uint64(len(data))+2*fieldChunk+64<<10; grew > bound {
			t.Fatalf("reading %d bytes allocated %d (bound %d)", len(data), grew, bound)
		}
		if err != nil {
			return
		}
		again, err := decodeSnapshot(encodeSnapshot(recs))
		if err != nil {
			t.Fatalf("re-encoded records do not read back: %v", err)
		}
		if len(again) != len(recs) {
			t.Fatalf("read back %d records, want %d", len(again), len(recs))
		}
		for i := range recs {
			if !bytes.Equal(recs[i][0], again[i][0]) || !bytes.Equal(recs[i][1], again[i][1]) {
				t.Fatalf("record %d read back differently", i)
			}
		}
	})
}
