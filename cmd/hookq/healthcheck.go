package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hookq/hookq/internal/tlsutil"
)

// runHealthcheck: hookq healthcheck — GET <url><path> and succeed (exit 0)
// on 200, fail (exit 1) on anything else. It is the image's HEALTHCHECK:
// a scratch image has no shell or curl.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv("HOOKQ_HEALTHCHECK_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	url := fs.String("url", def, "base URL of the node (env HOOKQ_HEALTHCHECK_URL)")
	path := fs.String("path", "/readyz", "/readyz (knows a leader and caught up) or /healthz (process answers)")
	ca := fs.String("ca", "", "PEM CA to verify an https --url against")
	insecure := fs.Bool("insecure", false, "do not verify an https --url's certificate (for a check of the node's own listener)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: *insecure}} // #nosec G402 -- opt-in, for a node checking itself
	if *ca != "" {
		pool, err := tlsutil.LoadCAPool(*ca)
		if err != nil {
			return fmt.Errorf("--ca: %w", err)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	target := strings.TrimRight(*url, "/") + *path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil) // #nosec G704 -- the operator's --url (or HOOKQ_HEALTHCHECK_URL); checking that URL is the command's job
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req) // #nosec G704 -- the operator's --url, see above
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %s %s", target, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s: %s\n", target, strings.TrimSpace(string(body)))
	return nil
}
