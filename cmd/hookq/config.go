package main

import (
	"errors"
	"fmt"

	"github.com/hookq/hookq/cluster"
)

// Validate checks the whole serve configuration, once flags, environment
// and secret files are in and before anything is opened, and fills its
// parsed forms (peerMap, seedList). It is the only place that judges the
// configuration; components get only what it accepted.
func (c *serveConfig) Validate() error {
	if c.bodyReadTimeout <= 0 || c.maxConns <= 0 || c.grpcStopTimeout <= 0 {
		return fmt.Errorf("--body-read-timeout (%v), --max-conns (%d) and --grpc-stop-timeout (%v) must be positive", c.bodyReadTimeout, c.maxConns, c.grpcStopTimeout)
	}
	if c.role != "voter" && c.role != "ingest" {
		return fmt.Errorf("--role %q: want voter or ingest", c.role)
	}
	if err := c.tls.validate(); err != nil {
		return err
	}
	mtls := c.tls.clusterCA != ""
	if c.role == "ingest" {
		seeds, err := cluster.ParseSeeds(c.seeds, mtls)
		if err != nil {
			return err
		}
		c.seedList = seeds
		if c.ingestKey == "" && c.clusterKey == "" {
			return errNoIngestKey
		}
		return nil
	}
	peers, err := cluster.ParsePeers(c.peers)
	if err != nil {
		return err
	}
	c.peerMap = peers
	return cluster.CheckPeerURLs("--join", mtls, c.join)
}

var errNoIngestKey = errors.New("--role ingest needs --ingest-key (or --ingest-key-file; for compatibility --cluster-key or --admin-token)")

// validate checks that the certificate flags come in whole pairs.
func (t tlsFlags) validate() error {
	if t.reloadEvery <= 0 {
		return fmt.Errorf("--tls-reload-interval must be positive")
	}
	if (t.cert == "") != (t.key == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	n := 0
	for _, f := range []string{t.clusterCA, t.clusterCert, t.clusterKey} {
		if f != "" {
			n++
		}
	}
	if n != 0 && n != 3 {
		return fmt.Errorf("--cluster-ca, --cluster-tls-cert and --cluster-tls-key go together")
	}
	return nil
}
