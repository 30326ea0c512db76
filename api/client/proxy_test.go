package client_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// proxy forwards TCP connections to a target and can cut them all, as a
// network failure or a node restart would.
type proxy struct {
	ln     net.Listener // TLS when the proxy terminates TLS
	target string

	mu    sync.Mutex
	conns []net.Conn
	count int
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveProxy(t, ln, target)
}

// startTLSProxy is a proxy that terminates TLS with conf and forwards the
// plaintext.
func startTLSProxy(t *testing.T, target string, conf *tls.Config) *proxy {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	return serveProxy(t, ln, target)
}

func serveProxy(t *testing.T, ln net.Listener, target string) *proxy {
	t.Helper()
	p := &proxy{ln: ln, target: target}
	var wg sync.WaitGroup
	wg.Go(func() { p.serve(&wg) })
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve(wg *sync.WaitGroup) {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.count++
		p.mu.Unlock()
		wg.Go(func() { pipe(out, in) })
		wg.Go(func() { pipe(in, out) })
	}
}

func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		_ = err // a cut connection ends here
	}
	_ = dst.Close()
	_ = src.Close()
}

// stop closes the listener and every connection: the target is gone.
func (p *proxy) stop() {
	_ = p.ln.Close()
	p.cut()
}

// cut closes every connection made so far.
func (p *proxy) cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (p *proxy) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}
