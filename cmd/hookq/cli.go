package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// The admin and developer commands (queue, source, token, send, tail,
// messages, message, replay, redrive, purge, cluster, completion) talk to
// a node's HTTP API. The consumer side of tail goes through api/client;
// the admin calls, which api/client does not cover, go through cliAPI
// below, a thin JSON-over-HTTP helper.

// cliGlobals are the flags every CLI command takes.
type cliGlobals struct {
	url   string
	token string
	ca    string
	json  bool
	out   io.Writer
	err   io.Writer
}

// globalFlagNames are the flags of cliGlobals that take a value; json is
// the one boolean.
var globalFlagNames = map[string]bool{"url": true, "token": true, "ca": true, "json": false}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// newCLIFlags is a command's flag set with the global flags on it.
func newCLIFlags(name, usage string, stdout, stderr io.Writer) (*flag.FlagSet, *cliGlobals) {
	g := &cliGlobals{out: stdout, err: stderr}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&g.url, "url", envOr("HOOKQ_URL", "http://127.0.0.1:8080"), "base URL of a hookq node's HTTP API (env HOOKQ_URL)")
	fs.StringVar(&g.token, "token", os.Getenv("HOOKQ_TOKEN"), "bearer token (env HOOKQ_TOKEN)")
	fs.StringVar(&g.ca, "ca", os.Getenv("HOOKQ_CA"), "PEM file of CA certificates to trust for https (env HOOKQ_CA)")
	fs.BoolVar(&g.json, "json", false, "print JSON for scripts instead of tables")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hookq %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs, g
}

// parseCLI parses flags anywhere among args (hookq queue put NAME
// --visibility 30s) and returns the positional arguments.
func parseCLI(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// parseArgs is parseCLI, then wantArgs: the positional arguments of a
// command that takes between min and max of them (max < 0: no limit).
func parseArgs(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	pos, err := parseCLI(fs, args)
	if err != nil {
		return nil, err
	}
	return pos, wantArgs(fs, pos, min, max)
}

// wantArgs checks the number of positional arguments.
func wantArgs(fs *flag.FlagSet, pos []string, min, max int) error {
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		fs.Usage()
		return errUsage
	}
	return nil
}

// hoistGlobals moves global flags written before the command
// (hookq --url U queue list) to the end, where the command's flag set
// parses them (flags may come anywhere, see parseCLI).
func hoistGlobals(args []string) []string {
	var globals []string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		takesValue, ok := globalFlagNames[name]
		if !ok {
			break
		}
		n := 1
		if takesValue && !hasValue && len(args) > 1 {
			n = 2
		}
		globals, args = append(globals, args[:n]...), args[n:]
	}
	if len(args) == 0 {
		return globals
	}
	return append(args, globals...)
}

// stringList is a flag that may be repeated; each use may also hold
// comma-separated values.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// repeatList is a flag that may be repeated, each use one value as is
// (secrets and headers may hold commas).
type repeatList []string

func (l *repeatList) String() string { return strings.Join(*l, " ") }

func (l *repeatList) Set(v string) error { *l = append(*l, v); return nil }

// apiError is an error answer of the HTTP API.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// cliAPI calls one node's HTTP API.
type cliAPI struct {
	base  string
	token string
	http  *http.Client
}

// httpClient is an HTTP client that trusts --ca when it is given.
func (g *cliGlobals) httpClient(timeout time.Duration) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if g.ca != "" {
		pem, err := os.ReadFile(g.ca) // #nosec G703 -- the CA file the user named with --ca
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca: no PEM certificates in %s", g.ca)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	// No redirects: the API answers none of its own, and the router's
	// (a name of . or .. cleaned out of the path) would lead a command to
	// another endpoint, a DELETE turned into a GET of a listing.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: noRedirect}, nil
}

// redactURL is u with the password of its user info, if any, hidden.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Redacted()
}

func (g *cliGlobals) api() (*cliAPI, error) {
	u, err := url.Parse(g.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--url %q: want http://host:port or https://host:port", g.url)
	}
	hc, err := g.httpClient(60 * time.Second)
	if err != nil {
		return nil, err
	}
	return &cliAPI{base: strings.TrimRight(g.url, "/"), token: g.token, http: hc}, nil
}

// call sends a JSON request (in may be nil) and decodes a JSON answer
// into out (when not nil). It returns the status; an error answer is an
// *apiError.
func (c *cliAPI) call(ctx context.Context, method, path string, in, out any) (int, error) {
	raw, status, err := c.raw(ctx, method, path, in)
	if err != nil {
		return status, err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return status, fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, path, err)
		}
	}
	return status, nil
}

// raw is call without decoding: the answer's body.
func (c *cliAPI) raw(ctx context.Context, method, path string, in any) ([]byte, int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body) // #nosec G704 -- the user's --url; calling it is the command's job
	if err != nil {
		return nil, 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req) // #nosec G704 -- the user's --url, see above
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", method, redactURL(c.base+path), err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return raw, resp.StatusCode, errorOf(resp.StatusCode, raw)
	}
	return raw, resp.StatusCode, nil
}

// errorOf reads the API's error body; anything else keeps its text.
func errorOf(status int, raw []byte) *apiError {
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Code == "" {
		if status >= 300 && status < 400 {
			return &apiError{Status: status, Code: "redirect", Message: "the server answered with a redirect, which hookq does not follow (is a name . or ..?)"}
		}
		return &apiError{Status: status, Code: strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_"), Message: strings.TrimSpace(string(raw))}
	}
	return &apiError{Status: status, Code: eb.Error.Code, Message: eb.Error.Message}
}

// printJSON writes v (or raw JSON bytes) indented, for --json.
func (g *cliGlobals) printJSON(v any) error {
	var b []byte
	switch r := v.(type) {
	case []byte:
		var buf bytes.Buffer
		if err := json.Indent(&buf, bytes.TrimSpace(r), "", "  "); err != nil {
			return err
		}
		b = buf.Bytes()
	default:
		var err error
		if b, err = json.MarshalIndent(v, "", "  "); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(g.out, "%s\n", b)
	return err
}

// table writes rows under a header, columns aligned.
func (g *cliGlobals) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// fields writes name: value lines, aligned.
func (g *cliGlobals) fields(kv ...string) error {
	tw := tabwriter.NewWriter(g.out, 0, 4, 1, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], cell(kv[i+1]))
	}
	return tw.Flush()
}

// cell is s for one table cell or field: printable, and on one line in
// its column (a tab or newline would break the alignment).
func cell(s string) string {
	return strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(printable(s))
}

// orDash is s, or "-" when empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ptr is *s, or "-" when nil or empty.
func ptr(s *string) string {
	if s == nil {
		return "-"
	}
	return orDash(*s)
}

// errNeedYes refuses a destructive command without --yes.
var errNeedYes = usageError{errors.New("this removes messages: add --yes to go ahead")}

// errReplayAllNeedsYes: a replay of a whole queue enqueues a copy of every
// message it holds, which nobody should do by leaving out the ids.
var errReplayAllNeedsYes = usageError{errors.New("with neither message ids nor --since/--until this replays every message of the queue: add --yes to go ahead")}

// pathEscape escapes one path segment (names are URL-safe already; ids
// from users may not be).
func pathEscape(s string) string { return url.PathEscape(s) }
