// Command hookq is the hookq webhook broker: `hookq serve` runs a node,
// `hookq bench` load-tests one, and the admin and developer commands
// (queue, source, token, send, tail, messages, …) drive one over its API.
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
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	code := exitCode(err)
	var ue usageError
	if code == 1 || errors.As(err, &ue) {
		fmt.Fprintln(os.Stderr, "hookq:", err)
	}
	stop()
	os.Exit(code)
}

// errUsage says the usage was printed for a command line that names no
// command: exit 2 without another word.
var errUsage = errors.New("usage")

// flagError is a command line its flag set refused; the flag set has
// printed the error and the usage already.
type flagError struct{ error }

func (e flagError) Unwrap() error { return e.error }

// usageError is a command line refused after its flags parsed (a
// missing or conflicting flag): main prints it and exits 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// parseFlags parses args into fs: -h and --help give flag.ErrHelp (the
// usage went to fs's output), any other refusal a flagError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return flagError{err}
}

// exitCode is the process's exit status for Run's answer: 0 for success
// and for help that was asked for, 2 for a command line that was refused
// (printed by then), 1 for a failure (printed by main).
func exitCode(err error) int {
	var fe flagError
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage), errors.As(err, &fe), errors.As(err, &ue):
		return 2
	}
	return 1
}

const usage = `hookq — a highly available webhook broker

Usage:
  hookq serve [flags]        run a node (hookq serve --dev for a local one)
  hookq bench [flags]        load-test an ingest URL and consume it back
  hookq bench cluster        start a local 3-node cluster and bench it
  hookq backup --url U --token T --out FILE   stream a consistent backup from any voter
  hookq restore --in FILE --data-dir DIR      seed a fresh node from a backup
  hookq healthcheck [--url U]                 exit 0 when a node answers /readyz 200
  hookq version                               (also hookq --version)

Admin and developer commands (they take --url, default $HOOKQ_URL or
http://127.0.0.1:8080, --token, default $HOOKQ_TOKEN, --ca FILE for https,
and --json for scripts; errors print the API's code and message, exit 1):
  hookq queue put NAME [--visibility D --max-attempts N --backoff D,D --retention D --max-depth N --dlq NAME]
  hookq queue list | get NAME | delete NAME
  hookq source put NAME --queue Q --verify TYPE [--secret S …]
  hookq source list | get NAME | delete NAME
  hookq token create NAME --scope S … | list | delete NAME
  hookq send SOURCE (--data JSON | --file F) [--provider P --secret S --header K=V]
  hookq tail QUEUE [--ack|--nack|--peek] [--n N] [--via sse|grpc]
  hookq messages QUEUE [--state S --limit N]    hookq message get QUEUE ID
  hookq replay QUEUE (ID… | --since T --until T)   hookq redrive DLQ [ID…]   hookq purge QUEUE --yes
  hookq cluster status | transfer [ID] | remove ID
  hookq completion bash|zsh

Run "hookq <command> -h" for a command's flags. Every flag of serve also
reads the environment variable HOOKQ_<FLAG> (e.g. HOOKQ_ADMIN_TOKEN).
`

// Run runs one hookq command.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	args = hoistGlobals(args)
	switch args[0] {
	case "queue":
		return runQueue(ctx, args[1:], stdout, stderr)
	case "source":
		return runSource(ctx, args[1:], stdout, stderr)
	case "token":
		return runToken(ctx, args[1:], stdout, stderr)
	case "send":
		return runSend(ctx, args[1:], stdout, stderr)
	case "tail":
		return runTail(ctx, args[1:], stdout, stderr)
	case "messages":
		return runMessages(ctx, args[1:], stdout, stderr)
	case "message":
		return runMessage(ctx, args[1:], stdout, stderr)
	case "replay":
		return runReplay(ctx, args[1:], stdout, stderr)
	case "redrive":
		return runRedrive(ctx, args[1:], stdout, stderr)
	case "purge":
		return runPurge(ctx, args[1:], stdout, stderr)
	case "cluster":
		return runCluster(ctx, args[1:], stdout, stderr)
	case "completion":
		return runCompletion(args[1:], stdout, stderr)
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
