package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// node is one `hookq serve` process that bench cluster started, and the
// only kind of process it ever signals (by its own PID).
type node struct {
	id, dir, logPath string
	http, grpc, raft string
	pprof            string // --pprof-addr when profiles are wanted
	cmd              *exec.Cmd
	exited           chan struct{}
}

func (n *node) url() string { return "http://" + n.http }

func (n *node) pid() int { return n.cmd.Process.Pid }

// start runs bin serve for n with the given peers and admin token file.
// Its output goes to n.logPath; HOOKQ_* variables of our environment are
// not passed on, so only the flags configure it.
func (n *node) start(bin, peers, tokenFile string) error {
	logf, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.id, err)
	}
	defer logf.Close()
	// #nosec G204 -- bin is this executable or the operator's --binary; arguments are separate, no shell
	cmd := exec.Command(bin, "serve", "--node-id", n.id, "--data-dir", n.dir,
		"--http-addr", n.http, "--grpc-addr", n.grpc, "--raft-addr", n.raft,
		"--peers", peers, "--admin-token-file", tokenFile, "--log-level", "warn")
	if n.pprof != "" {
		cmd.Args = append(cmd.Args, "--pprof-addr", n.pprof)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOOKQ_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = nodeProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("node %s: start %s: %w", n.id, bin, err)
	}
	n.cmd, n.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(n.exited)
	}()
	return nil
}

func (n *node) alive() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to our process, and SIGKILL if it has not exited
// within grace.
func (n *node) stop(grace time.Duration) {
	if !n.alive() {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
		return
	case <-time.After(grace):
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
}

// logTail is the end of the node's output, for error messages.
func (n *node) logTail() string {
	b, err := os.ReadFile(n.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitReady polls GET /readyz until it answers 200.
func (n *node) waitReady(ctx context.Context, timeout time.Duration) error {
	c := newHTTPClient(1, 2*time.Second)
	defer closeIdle(c)
	deadline := time.Now().Add(timeout)
	for {
		if err := call(ctx, c, http.MethodGet, n.url()+"/readyz", "", nil, nil); err == nil {
			return nil
		}
		if !n.alive() {
			return fmt.Errorf("%w: %s before it was ready:\n%s", ErrNodeExited, n.id, n.logTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not ready within %v:\n%s", n.id, timeout, n.logTail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// newNodes lays out count nodes n1…: a data dir and a log file under dir,
// and three free loopback addresses each.
func newNodes(dir string, count int) ([]*node, error) {
	addrs, err := freeAddrs(3 * count)
	if err != nil {
		return nil, err
	}
	var ns []*node
	for i := range count {
		id := "n" + strconv.Itoa(i+1)
		ns = append(ns, &node{id: id, dir: filepath.Join(dir, id), logPath: filepath.Join(dir, id+".log"),
			http: addrs[3*i], grpc: addrs[3*i+1], raft: addrs[3*i+2]})
	}
	return ns, nil
}

// freeAddrs returns n distinct 127.0.0.1 addresses whose ports were free
// when asked. Ports come from below the kernel's ephemeral range, so
// outgoing connections cannot take them before the nodes listen.
func freeAddrs(n int) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for range 100 * n {
		if len(out) == n {
			return out, nil
		}
		addr := "127.0.0.1:" + strconv.Itoa(10000+rand.IntN(22000)) // #nosec G404 -- picks a test port to probe, nothing secret
		if seen[addr] {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close() // #nosec G104 -- a probe listener that never accepted; only its port is wanted
		seen[addr] = true
		out = append(out, addr)
	}
	if len(out) == n {
		return out, nil
	}
	return nil, errors.New("bench: no free loopback ports")
}
