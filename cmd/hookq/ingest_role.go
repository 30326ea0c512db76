package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/cluster"
	"github.com/hookq/hookq/internal/tlsutil"
	"github.com/prometheus/client_golang/prometheus"
)

// hostPort is this machine's hostname as a host:port, for advertising.
func hostPort() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return net.JoinHostPort(h, "0")
}

// runIngestNode runs --role ingest: no Raft, no Pebble; it verifies
// webhooks locally and forwards them to the leader.
func runIngestNode(ctx context.Context, c serveConfig, log *slog.Logger) error {
	seeds := c.seedList
	key, err := ingestCredential(c, log)
	if err != nil {
		return err
	}
	tlsSet, err := loadTLS(c.tls, log)
	if err != nil {
		return err
	}
	tlsSet.warnPlaintext(log, []string{c.httpAddr}, nil)
	tlsSet.reload(ctx, log)
	ln, err := net.Listen("tcp", c.httpAddr)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	reg := prometheus.NewRegistry()
	forwardErrors := broker.NewForwardErrorsCounter()
	reg.MustRegister(forwardErrors)
	n, err := cluster.OpenIngest(cluster.IngestConfig{
		NodeID: c.nodeID, HTTPAddr: advertised(ln.Addr(), hostPort()), Seeds: seeds, Key: key, Logger: log,
		ClusterTLS: tlsSet.cluster, Version: releaseString(), ForwardErrors: forwardErrors,
	})
	if err != nil {
		ln.Close() // #nosec G104 -- cleanup on a failed start: the OpenIngest error is the one reported
		return err
	}
	defer n.Close()
	srv := api.NewIngestOnly(api.Config{
		HTTPAddr: ln.Addr().String(), Logger: log, BodyReadTimeout: c.bodyReadTimeout, MaxConns: c.maxConns,
		TLS: tlsutil.Listener(tlsSet.public, nil), Registry: reg,
	}, n)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("hookq ingest node started", "node", c.nodeID, "http", ln.Addr().String(), "seeds", seeds)
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil {
			log.Error("http server", "err", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
