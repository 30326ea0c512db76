package client_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/hookq/hookq/api/apitest"
)

// The examples run against one real node started here, reached through
// these variables as a program would be configured.
var (
	grpcAddr string // a hookq node's --grpc-addr
	httpURL  string // its HTTP API
	token    string // a token with the scopes the examples need
)

func TestMain(m *testing.M) {
	tb := &mainTB{}
	code := 1
	func() {
		defer tb.cleanup()
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintln(os.Stderr, "starting the examples' node:", r)
			}
		}()
		n := apitest.Start(tb)
		for _, q := range []string{"orders", "invoices", "signups", "events"} {
			n.Queue(tb, q, nil)
		}
		grpcAddr, httpURL = n.GRPCAddr, n.HTTPURL
		token = n.Token(tb, "examples", "publish:*", "consume:*")
		code = m.Run()
	}()
	os.Exit(code)
}

// mainTB is the testing.TB of the examples' node, which lives for the
// whole test binary: Fatal panics (TestMain reports it), Cleanup runs
// when TestMain ends. Methods apitest does not call are not provided.
type mainTB struct {
	testing.TB
	cleanups []func()
	dirs     []string
}

func (tb *mainTB) Helper()                  {}
func (tb *mainTB) Name() string             { return "examples" }
func (tb *mainTB) Failed() bool             { return false }
func (tb *mainTB) Context() context.Context { return context.Background() }
func (tb *mainTB) Log(args ...any)          {}
func (tb *mainTB) Logf(string, ...any)      {}
func (tb *mainTB) Error(args ...any)        { panic(fmt.Sprint(args...)) }
func (tb *mainTB) Errorf(f string, a ...any) {
	panic(fmt.Sprintf(f, a...))
}
func (tb *mainTB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (tb *mainTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (tb *mainTB) Cleanup(f func())          { tb.cleanups = append(tb.cleanups, f) }

func (tb *mainTB) TempDir() string {
	d, err := os.MkdirTemp("", "hookq-client-examples-")
	if err != nil {
		panic(err)
	}
	tb.dirs = append(tb.dirs, d)
	return d
}

func (tb *mainTB) cleanup() {
	for i := len(tb.cleanups) - 1; i >= 0; i-- {
		tb.cleanups[i]()
	}
	for _, d := range tb.dirs {
		_ = os.RemoveAll(d)
	}
}
