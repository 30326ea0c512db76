package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// queueJSON is the queue object of GET /v1/queues/{q}.
type queueJSON struct {
	Name     string `json:"name"`
	Settings struct {
		VisibilityTimeout string   `json:"visibilityTimeout"`
		MaxAttempts       uint32   `json:"maxAttempts"`
		Backoff           []string `json:"backoff"`
		DeadLetterQueue   string   `json:"deadLetterQueue"`
		Retention         string   `json:"retention"`
		MaxDepth          int64    `json:"maxDepth"`
	} `json:"settings"`
	Stats struct {
		Ready                 int64   `json:"ready"`
		Inflight              int64   `json:"inflight"`
		Delayed               int64   `json:"delayed"`
		Acked                 int64   `json:"acked"`
		OldestReadyAgeSeconds float64 `json:"oldestReadyAgeSeconds"`
		Enqueued              int64   `json:"enqueued"`
		Delivered             int64   `json:"delivered"`
		DeadLettered          int64   `json:"deadLettered"`
	} `json:"stats"`
}

func runQueue(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, args, err := subcommand("queue", []string{"put", "list", "get", "delete"}, args, stderr)
	if err != nil {
		return err
	}
	switch sub {
	case "put":
		return queuePut(ctx, args, stdout, stderr)
	case "list":
		return adminList(ctx, "queue list", "/v1/queues", args, stdout, stderr, printQueues)
	case "get":
		return adminGet(ctx, "queue get NAME", "/v1/queues/", args, stdout, stderr, printQueue)
	}
	return adminDelete(ctx, "queue delete NAME", "/v1/queues/", "queue", args, stdout, stderr)
}

// subcommand picks the subcommand of cmd among subs.
func subcommand(cmd string, subs, args []string, stderr io.Writer) (string, []string, error) {
	usage := func() {
		fmt.Fprintf(stderr, "Usage: hookq %s %s …\nRun \"hookq %s <subcommand> -h\" for its flags.\n", cmd, strings.Join(subs, "|"), cmd)
	}
	if len(args) == 0 {
		usage()
		return "", nil, errUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage()
		return "", nil, flag.ErrHelp
	}
	for _, s := range subs {
		if args[0] == s {
			return s, args[1:], nil
		}
	}
	usage()
	return "", nil, usagef("%s: unknown subcommand %q", cmd, args[0])
}

func queuePut(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newCLIFlags("queue put", "queue put NAME [flags]\n\nCreates or replaces a queue. PUT replaces every setting: one not given takes its default.", stdout, stderr)
	vis := fs.String("visibility", "", "lease length when the consumer asks for none, 1s..12h (default 30s)")
	maxAttempts := fs.Int64("max-attempts", 0, "deliveries before a nack or expiry dead-letters the message; 0 = unlimited (default 5)")
	var backoff stringList
	fs.Var(&backoff, "backoff", "nack delays by attempt, comma-separated, the last repeating (default 1s,5s,30s,2m,10m)")
	retention := fs.String("retention", "", "how long acked messages stay readable and replayable (default 24h)")
	maxDepth := fs.Int64("max-depth", 0, "ingest answers 503 queue_full at this many ready+in-flight+delayed (default 1000000)")
	dlq := fs.String("dlq", "", `dead-letter queue; "" drops dead letters (default NAME.dlq)`)
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	body := map[string]any{}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "visibility":
			body["visibilityTimeout"] = *vis
		case "max-attempts":
			body["maxAttempts"] = *maxAttempts
		case "backoff":
			body["backoff"] = []string(backoff)
		case "retention":
			body["retention"] = *retention
		case "max-depth":
			body["maxDepth"] = *maxDepth
		case "dlq":
			body["deadLetterQueue"] = *dlq
		}
	})
	c, err := g.api()
	if err != nil {
		return err
	}
	raw, status, err := c.raw(ctx, "PUT", "/v1/queues/"+pathEscape(pos[0]), body)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(raw)
	}
	fmt.Fprintf(stdout, "queue %s %s\n", pos[0], createdOrUpdated(status))
	return printQueue(g, raw)
}

func createdOrUpdated(status int) string {
	if status == http.StatusCreated {
		return "created"
	}
	return "updated"
}

// adminList GETs a list and prints it (raw JSON with --json).
func adminList(ctx context.Context, usage, path string, args []string, stdout, stderr io.Writer, print func(*cliGlobals, []byte) error) error {
	fs, g := newCLIFlags(usage, usage, stdout, stderr)
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	c, err := g.api()
	if err != nil {
		return err
	}
	raw, _, err := c.raw(ctx, "GET", path, nil)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(raw)
	}
	return print(g, raw)
}

// adminGet GETs prefix+NAME and prints it.
func adminGet(ctx context.Context, usage, prefix string, args []string, stdout, stderr io.Writer, print func(*cliGlobals, []byte) error) error {
	fs, g := newCLIFlags(usage, usage, stdout, stderr)
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	c, err := g.api()
	if err != nil {
		return err
	}
	raw, _, err := c.raw(ctx, "GET", prefix+pathEscape(pos[0]), nil)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(raw)
	}
	return print(g, raw)
}

// adminDelete DELETEs prefix+NAME.
func adminDelete(ctx context.Context, usage, prefix, what string, args []string, stdout, stderr io.Writer) error {
	fs, g := newCLIFlags(usage, usage, stdout, stderr)
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	c, err := g.api()
	if err != nil {
		return err
	}
	if _, err := c.call(ctx, "DELETE", prefix+pathEscape(pos[0]), nil, nil); err != nil {
		return err
	}
	if g.json {
		return g.printJSON(map[string]string{"deleted": pos[0]})
	}
	_, err = fmt.Fprintf(stdout, "%s %s deleted\n", what, pos[0])
	return err
}

func decode[T any](raw []byte) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}

func printQueues(g *cliGlobals, raw []byte) error {
	v, err := decode[struct {
		Queues []queueJSON `json:"queues"`
	}](raw)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(v.Queues))
	for _, q := range v.Queues {
		s := q.Stats
		rows = append(rows, []string{q.Name, itoa(s.Ready), itoa(s.Inflight), itoa(s.Delayed), itoa(s.Acked),
			itoa(s.Enqueued), itoa(s.DeadLettered), orDash(q.Settings.DeadLetterQueue)})
	}
	return g.table([]string{"NAME", "READY", "INFLIGHT", "DELAYED", "ACKED", "ENQUEUED", "DEAD-LETTERED", "DLQ"}, rows)
}

func printQueue(g *cliGlobals, raw []byte) error {
	q, err := decode[queueJSON](raw)
	if err != nil {
		return err
	}
	st, s := q.Settings, q.Stats
	return g.fields(
		"name", q.Name,
		"visibility", short(st.VisibilityTimeout),
		"max attempts", strconv.FormatUint(uint64(st.MaxAttempts), 10),
		"backoff", shortList(st.Backoff),
		"dead-letter queue", orDash(st.DeadLetterQueue),
		"retention", short(st.Retention),
		"max depth", itoa(st.MaxDepth),
		"ready", itoa(s.Ready),
		"inflight", itoa(s.Inflight),
		"delayed", itoa(s.Delayed),
		"acked", itoa(s.Acked),
		"oldest ready", (time.Duration(s.OldestReadyAgeSeconds * float64(time.Second))).Round(time.Millisecond).String(),
		"enqueued", itoa(s.Enqueued),
		"delivered", itoa(s.Delivered),
		"dead-lettered", itoa(s.DeadLettered),
	)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// sourceJSON is the source object of GET /v1/sources/{s}.
type sourceJSON struct {
	Name   string   `json:"name"`
	Queues []string `json:"queues"`
	Verify struct {
		Type        string  `json:"type"`
		SecretCount int     `json:"secretCount"`
		Header      *string `json:"header"`
		Algorithm   *string `json:"algorithm"`
		Encoding    *string `json:"encoding"`
		Prefix      *string `json:"prefix"`
		Tolerance   string  `json:"tolerance"`
	} `json:"verify"`
	Dedup struct {
		Key    string `json:"key"`
		Window string `json:"window"`
	} `json:"dedup"`
	MaxBodyBytes int64   `json:"maxBodyBytes"`
	CreatedAt    *string `json:"createdAt"`
}

func runSource(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, args, err := subcommand("source", []string{"put", "list", "get", "delete"}, args, stderr)
	if err != nil {
		return err
	}
	switch sub {
	case "put":
		return sourcePut(ctx, args, stdout, stderr)
	case "list":
		return adminList(ctx, "source list", "/v1/sources", args, stdout, stderr, printSources)
	case "get":
		return adminGet(ctx, "source get NAME", "/v1/sources/", args, stdout, stderr, printSource)
	}
	return adminDelete(ctx, "source delete NAME", "/v1/sources/", "source", args, stdout, stderr)
}

func sourcePut(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newCLIFlags("source put", "source put NAME --queue Q [flags]\n\nCreates or replaces a source (secrets included: give every secret to keep). The queues must exist.", stdout, stderr)
	var queues stringList
	var secrets repeatList
	fs.Var(&queues, "queue", "queue the source feeds (repeat, or comma-separated; required)")
	verify := fs.String("verify", "", "verification (required): none|token|basic|hmac|github|stripe|shopify|slack|standard")
	fs.Var(&secrets, "secret", "a secret (repeat for rotation; any one matching passes)")
	header := fs.String("header", "", "hmac: the header carrying the signature")
	algorithm := fs.String("algorithm", "", "hmac: sha1|sha256|sha512 (default sha256)")
	encoding := fs.String("encoding", "", "hmac: hex|base64 (default hex)")
	prefix := fs.String("prefix", "", "hmac: prefix of the signature, e.g. sha256=")
	tolerance := fs.String("tolerance", "", "stripe, slack, standard: replay window (default 5m)")
	dedup := fs.String("dedup", "", "dedup key: provider|none|header:<Name>|json:<pointer> (default provider)")
	window := fs.String("dedup-window", "", "how long a dedup key is remembered (default 24h)")
	maxBody := fs.Int64("max-body", 0, "largest body in bytes, up to 16 MiB (default 1 MiB)")
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *verify == "" {
		return usagef("source put: --verify is required (--verify none accepts every request)")
	}
	v := map[string]any{"type": *verify}
	if len(secrets) > 0 {
		v["secrets"] = []string(secrets)
	}
	for k, s := range map[string]string{"header": *header, "algorithm": *algorithm, "encoding": *encoding, "prefix": *prefix, "tolerance": *tolerance} {
		if s != "" {
			v[k] = s
		}
	}
	body := map[string]any{"queues": []string(queues), "verify": v}
	if *dedup != "" || *window != "" {
		d := map[string]string{}
		if *dedup != "" {
			d["key"] = *dedup
		}
		if *window != "" {
			d["window"] = *window
		}
		body["dedup"] = d
	}
	if *maxBody != 0 {
		body["maxBodyBytes"] = *maxBody
	}
	c, err := g.api()
	if err != nil {
		return err
	}
	raw, status, err := c.raw(ctx, "PUT", "/v1/sources/"+pathEscape(pos[0]), body)
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(raw)
	}
	fmt.Fprintf(stdout, "source %s %s: POST %s/hooks/%s\n", pos[0], createdOrUpdated(status), c.base, pos[0])
	return printSource(g, raw)
}

func printSources(g *cliGlobals, raw []byte) error {
	v, err := decode[struct {
		Sources []sourceJSON `json:"sources"`
	}](raw)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(v.Sources))
	for _, s := range v.Sources {
		rows = append(rows, []string{s.Name, strings.Join(s.Queues, ","), s.Verify.Type, strconv.Itoa(s.Verify.SecretCount), s.Dedup.Key, short(s.Dedup.Window), itoa(s.MaxBodyBytes)})
	}
	return g.table([]string{"NAME", "QUEUES", "VERIFY", "SECRETS", "DEDUP", "WINDOW", "MAX-BODY"}, rows)
}

func printSource(g *cliGlobals, raw []byte) error {
	s, err := decode[sourceJSON](raw)
	if err != nil {
		return err
	}
	kv := []string{
		"name", s.Name,
		"queues", strings.Join(s.Queues, ","),
		"verify", s.Verify.Type,
		"secrets", strconv.Itoa(s.Verify.SecretCount),
	}
	if s.Verify.Type == "hmac" {
		kv = append(kv, "header", ptr(s.Verify.Header), "algorithm", ptr(s.Verify.Algorithm), "encoding", ptr(s.Verify.Encoding), "prefix", ptr(s.Verify.Prefix))
	}
	kv = append(kv, "tolerance", short(s.Verify.Tolerance), "dedup", s.Dedup.Key, "dedup window", short(s.Dedup.Window),
		"max body", itoa(s.MaxBodyBytes), "created", ptr(s.CreatedAt))
	return g.fields(kv...)
}

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, args, err := subcommand("token", []string{"create", "list", "delete"}, args, stderr)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		return tokenCreate(ctx, args, stdout, stderr)
	case "list":
		return adminList(ctx, "token list", "/v1/tokens", args, stdout, stderr, printTokens)
	}
	return adminDelete(ctx, "token delete NAME", "/v1/tokens/", "token", args, stdout, stderr)
}

func tokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, g := newCLIFlags("token create", "token create NAME --scope S [--scope S…]\n\nCreates a token and prints it, once: hookq keeps only its hash.", stdout, stderr)
	var scopes stringList
	fs.Var(&scopes, "scope", "admin, consume:<queue|*>, read:<queue|*> or publish:<queue|*> (repeat, or comma-separated)")
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	c, err := g.api()
	if err != nil {
		return err
	}
	raw, _, err := c.raw(ctx, "POST", "/v1/tokens", map[string]any{"name": pos[0], "scopes": []string(scopes)})
	if err != nil {
		return err
	}
	if g.json {
		return g.printJSON(raw)
	}
	t, err := decode[struct {
		Name  string `json:"name"`
		Token string `json:"token"`
	}](raw)
	if err != nil {
		return err
	}
	// The token alone on stdout, so TOKEN=$(hookq token create …) works.
	fmt.Fprintf(stderr, "token %s created with scopes %s; it is shown only now:\n", t.Name, strings.Join(scopes, ","))
	_, err = fmt.Fprintln(stdout, t.Token)
	return err
}

func printTokens(g *cliGlobals, raw []byte) error {
	v, err := decode[struct {
		Tokens []struct {
			Name      string   `json:"name"`
			Scopes    []string `json:"scopes"`
			CreatedAt *string  `json:"createdAt"`
		} `json:"tokens"`
	}](raw)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(v.Tokens))
	for _, t := range v.Tokens {
		sc := append([]string(nil), t.Scopes...)
		sort.Strings(sc)
		rows = append(rows, []string{t.Name, strings.Join(sc, ","), ptr(t.CreatedAt)})
	}
	return g.table([]string{"NAME", "SCOPES", "CREATED"}, rows)
}
