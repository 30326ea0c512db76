package raftfsm_test

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/hookq/hookq/storage"
)

// readLoop reads everything a broker reads from s, from another goroutine,
// until done is closed. Run under -race, it checks that reads are safe
// against ApplyBatch, a Persist in progress and a Restore swapping the
// database.
func readLoop(t *testing.T, s *storage.Store, done <-chan struct{}, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			now := s.LastTime()
			_ = s.AppliedIndex()
			if _, err := s.Queues(now); err != nil {
				t.Errorf("queues: %v", err)
				return
			}
			for _, q := range []string{"a", "a.dlq"} {
				if _, _, err := s.Messages(q, "", 5, "", now); err != nil && err != storage.ErrQueueNotFound {
					t.Errorf("messages: %v", err)
					return
				}
				s.NextAvailable(q)
			}
			s.SweepDue(now)
			s.Sources()
		}
	}()
}

func TestReadsAreSafeDuringApplyPersistAndRestore(t *testing.T) {
	w := newWorkload(t, 11)
	w.run(300)
	src, dst := mustFSM(t), mustFSM(t)
	done := make(chan struct{})
	var readers sync.WaitGroup
	readLoop(t, src.Store(), done, &readers)
	readLoop(t, dst.Store(), done, &readers)

	// Raft calls Snapshot between applies and Persist on its own goroutine
	// while applies go on.
	half := len(w.logs) / 2
	applyChunks(src, w.logs[:half], 3)
	want := digest(t, src.Store())
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &bufferSink{}
	persisted := make(chan error, 1)
	go func() {
		defer snap.Release()
		persisted <- snap.Persist(sink)
	}()
	applyChunks(src, w.logs[half:], 5)
	if err := <-persisted; err != nil {
		t.Fatalf("persist: %v", err)
	}
	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatalf("restore: %v", err)
	}
	got := digest(t, dst.Store())
	applyChunks(dst, w.logs, 4)
	close(done)
	readers.Wait()
	if got != want {
		t.Errorf("restored digest %s, want %s", got, want)
	}
	if digest(t, dst.Store()) != digest(t, src.Store()) {
		t.Errorf("restored FSM did not catch up to the source")
	}
}
