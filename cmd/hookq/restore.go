package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/internal/backupfile"
)

// runRestore: hookq restore --in FILE --data-dir DIR. It checks the backup
// (format, checksum, data format) and seeds DIR, which must hold no node
// state, so that `hookq serve` with the same --node-id and --raft-addr
// starts a new single-voter cluster with the backed-up state; more voters
// then --join it.
func runRestore(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	host, _ := os.Hostname()
	in := fs.String("in", "", "backup file written by hookq backup")
	dataDir := fs.String("data-dir", "", "fresh data dir to seed")
	nodeID := fs.String("node-id", host, "id of the node that will serve the dir (as given to serve)")
	raftAddr := fs.String("raft-addr", "127.0.0.1:7000", "Raft address of that node (as given to serve)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if *in == "" || *dataDir == "" {
		fs.Usage()
		return fmt.Errorf("restore needs --in and --data-dir")
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	h, snap, err := backupfile.Open(f)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	if h.DataFormat != broker.DataFormat {
		return fmt.Errorf("%s: a backup of data format %d; this release reads format %d only", *in, h.DataFormat, broker.DataFormat)
	}
	restrictUmask()
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return err
	}
	applied, err := broker.Seed(*dataDir, *nodeID, *raftAddr, snap)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored the backup of node %s (hookq %s, taken %s) into %s at index %d.\n"+
		"Start it as a new cluster of one voter:\n  hookq serve --node-id %s --raft-addr %s --data-dir %s ...\n"+
		"(no --peers; add voters with --join).\n",
		h.Node, h.Release, h.Created.Format("2006-01-02T15:04:05Z"), *dataDir, applied, *nodeID, *raftAddr, *dataDir)
	return nil
}
