package storage

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	pb "github.com/hookq/hookq/proto/raftcmd"
)

// Readers that take configs from memory (token lookup, queue and source
// views, SweepDue's round, NextAvailable's scan hints) run while the
// state machine commits config writes and leases and while a snapshot is
// restored underneath them. Run with -race: it fails on a data race, and
// after every restore the copy in memory must equal Pebble.
func TestConfigReadersDuringCommitsAndRestore(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	applyEntry(t, s, 1, func(x *Txn) {
		if r := x.PutQueue(&pb.PutQueue{Name: "q", Config: DefaultQueueConfig("q")}); r.Err != nil {
			t.Fatal(r.Err)
		}
	})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				s.TokenBySecret(fmt.Sprint("secret", i%7))
				s.HasQueue("q")
				s.IsDeadLetterQueue("q")
				if _, err := s.Queue("q", int64(i)); err != nil && err != ErrQueueNotFound {
					t.Errorf("reader %d: queue: %v", g, err)
					return
				}
				_, _ = s.Source(fmt.Sprint("src", i%3)) // a missing source is expected while writers delete it
				s.NextAvailable("q")
				s.SweepDue(int64(i))
			}
		}()
	}
	index := uint64(1)
	for round := range 40 {
		index++
		applyEntry(t, s, index, func(x *Txn) {
			n := fmt.Sprint(round % 7)
			x.DeleteToken(&pb.DeleteToken{Name: "t" + n})
			if r := x.PutToken(tokenOp("t"+n, "secret"+n)); r.Err != nil {
				t.Fatal(r.Err)
			}
			src := fmt.Sprint("src", round%3)
			x.DeleteSource(&pb.DeleteSource{Name: src})
			if r := x.PutSource(&pb.PutSource{Name: src, Config: &pb.SourceConfig{Queues: []string{"q"}, VerifyType: "none"}}); r.Err != nil {
				t.Fatal(r.Err)
			}
			if r := x.Enqueue(&pb.Enqueue{Source: src, Queues: []string{"q"}, Body: []byte("b")}); r.Err != nil {
				t.Fatal(r.Err)
			}
			x.Lease(&pb.Lease{Queue: "q", DeliveryRands: [][]byte{bytes.Repeat([]byte{byte(round)}, deliveryRandLen)}})
		})
		if round%10 == 9 {
			sn := s.Snapshot()
			var buf bytes.Buffer
			_, err := sn.WriteTo(&buf)
			sn.Release()
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Restore(&buf); err != nil {
				t.Fatal(err)
			}
			wantConfigsMatchDB(t, s, fmt.Sprint("after restore in round ", round))
		}
	}
	close(done)
	wg.Wait()
	wantConfigsMatchDB(t, s, "at the end")
}
