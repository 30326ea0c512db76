// Command hookq is the hookq webhook broker: `hookq serve` runs a node,
// `hookq bench` load-tests one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "hookq:", err)
		os.Exit(1)
	}
}

const usage = `hookq — a highly available webhook broker

Usage:
  hookq serve [flags]        run a node (hookq serve --dev for a local one)
  hookq bench [flags]        load-test an ingest URL and consume it back
  hookq bench cluster        start a local 3-node cluster and bench it
  hookq backup --url U --token T --out FILE   stream a consistent backup from any voter
  hookq restore --in FILE --data-dir DIR      seed a fresh node from a backup
  hookq healthcheck [--url U]                 exit 0 when a node answers /readyz 200
  hookq version

Run "hookq <command> -h" for a command's flags. Every flag also reads the
environment variable HOOKQ_<FLAG> (e.g. HOOKQ_ADMIN_TOKEN).
`

// Run runs one hookq command.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "backup":
		return runBackup(ctx, args[1:], stdout, stderr)
	case "restore":
		return runRestore(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return runVersion(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// applyEnv sets every flag not given on the command line from
// HOOKQ_<FLAG> (dashes become underscores).
func applyEnv(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		key := "HOOKQ_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", key, e)
			}
		}
	})
	return err
}
