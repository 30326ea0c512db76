package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hookq/hookq/internal/backupfile"
	"github.com/hookq/hookq/internal/tlsutil"
)

// runBackup: hookq backup --url … --token … --out FILE. It streams a
// consistent snapshot from any voter (GET /v1/cluster/backup) into FILE,
// checks the file whole (format, checksum) and only then gives it its
// name, so FILE is either a complete backup or absent.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "base URL of any voter, e.g. https://n1:8080")
	token := fs.String("token", "", "admin token")
	tokenFile := fs.String("token-file", "", "read --token from this file")
	out := fs.String("out", "", "the backup file to write")
	ca := fs.String("ca", "", "PEM CA to verify an https --url against (default: the system roots)")
	timeout := fs.Duration("timeout", time.Hour, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	if *tokenFile != "" {
		t, err := readSecretFile(*tokenFile, slog.New(slog.NewTextHandler(stderr, nil)))
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		*token = t
	}
	if *url == "" || *token == "" || *out == "" {
		fs.Usage()
		return fmt.Errorf("backup needs --url, --token (or --token-file) and --out")
	}
	client := &http.Client{Timeout: *timeout}
	if *ca != "" {
		pool, err := tlsutil.LoadCAPool(*ca)
		if err != nil {
			return fmt.Errorf("--ca: %w", err)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	start := time.Now()
	n, h, err := fetchBackup(ctx, client, strings.TrimRight(*url, "/")+"/v1/cluster/backup", *token, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of node %s (hookq %s, data format %d) written to %s: %d bytes in %v\n",
		h.Node, h.Release, h.DataFormat, *out, n, time.Since(start).Round(time.Millisecond))
	return nil
}

func fetchBackup(ctx context.Context, client *http.Client, endpoint, token, out string) (int64, backupfile.Header, error) {
	var h backupfile.Header
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return 0, h, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, h, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, h, fmt.Errorf("backup: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-*")
	if err != nil {
		return 0, h, err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	defer tmp.Close()
	n, err := io.Copy(tmp, resp.Body)
	if err != nil {
		return n, h, fmt.Errorf("backup: stream cut after %d bytes: %w", n, err)
	}
	if err := tmp.Sync(); err != nil {
		return n, h, err
	}
	h, _, err = backupfile.Open(tmp)
	if err != nil {
		return n, h, fmt.Errorf("backup: received %d bytes but they are not a whole backup: %w", n, err)
	}
	if err := tmp.Close(); err != nil {
		return n, h, err
	}
	return n, h, os.Rename(tmp.Name(), out)
}
