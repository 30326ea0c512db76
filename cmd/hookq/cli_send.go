package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hookq/hookq/ingest"
)

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newCLIFlags("send", "send SOURCE (--data JSON | --file F) [--provider P --secret S] [--header K=V…]\n\n"+
		"Signs a webhook the way the provider would and POSTs it to /hooks/SOURCE, then prints the answer:\n"+
		"the local-dev tool for testing a receiver end to end. A refused webhook exits 1.", stdout, stderr)
	provider := fs.String("provider", "none", "sign like this verify.type: "+strings.Join(ingest.Types(), "|"))
	secret := fs.String("secret", "", "the source's secret (standard: whsec_…; basic: user:password; discord: the app's private key seed in hex; sendgrid: the base64 PKCS#8 private key)")
	sigHeader := fs.String("sig-header", "", "hmac: the signature header")
	algorithm := fs.String("algorithm", "", "hmac: sha256 (default), sha1 or sha512")
	encoding := fs.String("encoding", "", "hmac: hex (default) or base64")
	prefix := fs.String("prefix", "", "hmac: a prefix before the signature (e.g. sha256=)")
	data := fs.String("data", "", "the body")
	file := fs.String("file", "", "read the body from this file (- for stdin)")
	contentType := fs.String("content-type", "application/json", "Content-Type of the body")
	eventID := fs.String("event-id", "", "the provider's event id (standard: webhook-id; github: X-GitHub-Delivery; shopify: X-Shopify-Event-Id); default: a random one")
	var headers repeatList
	fs.Var(&headers, "header", "an extra request header K=V (repeat)")
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	body, err := sendBody(*data, *file)
	if err != nil {
		return err
	}
	if *eventID == "" {
		*eventID = randomEventID()
	}
	cfg := ingest.SourceConfig{Verify: ingest.VerifyConfig{Type: *provider, Header: *sigHeader, Algorithm: *algorithm, Encoding: *encoding, Prefix: *prefix}}
	u := strings.TrimRight(g.url, "/") + "/hooks/" + pathEscape(pos[0])
	// SignRequest signs the URL too for the presets that cover it
	// (hubspot, square, twilio), and may put signed data in the body
	// (mailgun, linear, msgraph) or the URL: send what it returns.
	signed, err := ingest.SignRequest(&cfg, *secret, http.MethodPost, u, body, time.Now(), *eventID)
	if err != nil {
		return fmt.Errorf("signing as %s: %w", *provider, err)
	}
	hc, err := g.httpClient(60 * time.Second)
	if err != nil {
		return err
	}
	u = signed.URL
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(signed.Body)) // #nosec G704 -- the user's --url; posting to it is the command's job
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", *contentType)
	for k, vs := range signed.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return usagef("--header %q: want K=V", h)
		}
		req.Header.Set(strings.TrimSpace(k), v)
	}
	resp, err := hc.Do(req) // #nosec G704 -- the user's --url, see above
	if err != nil {
		return fmt.Errorf("POST %s: %w", redactURL(u), err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("POST %s: reading the answer: %w", redactURL(u), err)
	}
	if resp.StatusCode >= 300 {
		return errorOf(resp.StatusCode, answer)
	}
	if g.json && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return g.printJSON(answer)
	}
	_, err = fmt.Fprintf(stdout, "%d %s\n", resp.StatusCode, bytes.TrimSpace(answer))
	return err
}

// sendBody is --data or the contents of --file, exactly one of them.
func sendBody(data, file string) ([]byte, error) {
	switch {
	case data != "" && file != "":
		return nil, usagef("give --data or --file, not both")
	case file == "-":
		return io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
	case file != "":
		return os.ReadFile(file) // #nosec G304 -- the file the user named
	case data != "":
		return []byte(data), nil
	}
	return nil, usagef("give the body with --data or --file")
}

// randomEventID is a fresh provider event id, "msg_" and 24 hex digits.
func randomEventID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "msg_" + hex.EncodeToString(b)
}
