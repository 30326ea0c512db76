package api

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of the HTTP server: what one client, or many, can hold of a node.
// A request body is buffered whole before it is verified and enqueued, so
// a connection whose body stalls holds the bytes it sent so far (up to its
// source's maxBodyBytes); these bound how long and how many.
const (
	// ReadHeaderTimeout bounds reading a request line and its headers,
	// from the first byte.
	ReadHeaderTimeout = 10 * time.Second
	// DefaultBodyReadTimeout bounds reading a whole request body, from the
	// end of its headers (Config.BodyReadTimeout, --body-read-timeout).
	// A body not complete by then is answered 408 request_timeout and the
	// connection is closed. 1 MiB (the default maxBodyBytes) arrives well
	// within it even at 256 kbit/s; providers themselves give up sooner.
	DefaultBodyReadTimeout = 30 * time.Second
	// IdleTimeout closes a keep-alive connection that waits this long for
	// its next request.
	IdleTimeout = 120 * time.Second
	// MaxHeaderBytes bounds a request line and its headers (net/http
	// allows 4 KiB of slack on top); more is answered 431.
	MaxHeaderBytes = 64 << 10
	// DefaultMaxConns caps the open HTTP connections of a node
	// (Config.MaxConns, --max-conns). At the cap the idle keep-alive
	// connection idle longest is closed to make room for a new one; with
	// none idle, new connections wait in the kernel's accept queue until
	// one closes or goes idle. Each open connection costs
	// about 30 KiB, plus the part of a body it has sent (≤ maxBodyBytes):
	// 1024 keeps the worst case near 1 GiB with 1 MiB bodies, and is far
	// above what webhook senders, SSE consumers and long-polls of one
	// node normally keep open.
	DefaultMaxConns = 1024
	// HTTP2MaxConcurrentStreams caps the requests one HTTP/2 connection
	// (TLS listener) has open at once; further streams are refused.
	HTTP2MaxConcurrentStreams = 16
	// HTTP2MaxReceiveBufferPerConnection bounds the request-body bytes an
	// HTTP/2 connection buffers before handlers read them (flow control).
	HTTP2MaxReceiveBufferPerConnection = 1 << 20
	// DefaultBodyBudget bounds the webhook body bytes held node-wide at
	// once, from the start of their read until their request ends
	// (Config.BodyBudget). A webhook with a Content-Length reserves it
	// before reading; a chunked one reserves as its bytes arrive. One that
	// would go over the budget is answered 503 unavailable with
	// Retry-After, and nothing is stored.
	DefaultBodyBudget = 256 << 20
)

// errBodyBudget is a webhook body refused for the node-wide BodyBudget.
var errBodyBudget = fmt.Errorf("%w: the node is receiving too many webhook bodies at once; retry", errUnavailable)

// reserveBody takes n bytes of the body budget, or reports false and takes
// nothing if that would go over it.
func (s *Server) reserveBody(n int64) bool {
	for {
		cur := s.bodyBytes.Load()
		if cur+n > s.cfg.BodyBudget {
			return false
		}
		if s.bodyBytes.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// budgetReader reads a webhook body within the body budget: bytes beyond
// what is already reserved are reserved as they arrive; a read that
// cannot reserve fails with errBodyBudget. Its caller releases reserved
// when the request ends.
type budgetReader struct {
	r        io.Reader
	s        *Server
	read     int64
	reserved int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read += int64(n)
	if over := b.read - b.reserved; over > 0 {
		if !b.s.reserveBody(over) {
			return n, errBodyBudget
		}
		b.reserved += over
	}
	return n, err
}

func (b *budgetReader) release() { b.s.bodyBytes.Add(-b.reserved) }

// codeRequestTimeout is the error code of a body that did not arrive in
// time (408).
const codeRequestTimeout = "request_timeout"

// serveBodyDeadline serves a request that has a body: the whole body must
// arrive within the body timeout, or the request is answered 408
// request_timeout (whatever the handler makes of the failed read) and the
// connection is closed.
//
// The deadline is the connection's read deadline, and it is cleared as
// soon as the body has been read to its end: net/http then starts a
// background read to notice a client that goes away, and that read
// failing on an expired deadline would cancel the request's context, so a
// long-poll lease (body {"wait":"25s"}) would end early. Requests without
// a body (GET next?wait=, GET stream) never get a deadline. A handler that
// returns without reading the body to its end leaves the deadline in
// place, which bounds net/http's own attempt to consume what is left.
func (s *Server) serveBodyDeadline(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	timeout := s.cfg.BodyReadTimeout
	if err := rc.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		// Not served by net/http's server (a recorder in a test, or a
		// wrapper without Unwrap): no connection to bound.
		s.mux.ServeHTTP(w, r)
		return
	}
	body := &deadlineBody{ReadCloser: r.Body, rc: rc}
	tw := &bodyTimeoutWriter{ResponseWriter: w, body: body, timeout: timeout}
	// A shallow copy: net/http keeps looking at the original request's
	// body after the handler to decide whether the connection can be
	// reused.
	r2 := r.WithContext(r.Context())
	r2.Body = body
	s.mux.ServeHTTP(tw, r2)
	if body.timedOut.Load() {
		s.log.Info("request body timed out", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "timeout", timeout)
		if !tw.wroteHeader {
			tw.WriteHeader(http.StatusRequestTimeout)
		}
	}
}

// deadlineBody is a request body read under a deadline that it clears at
// the body's end.
type deadlineBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	cleared  bool
	timedOut atomic.Bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.clear()
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut.Store(true)
	}
	return n, err
}

// Close closes the body; net/http reads no more of it afterwards.
func (b *deadlineBody) Close() error {
	err := b.ReadCloser.Close()
	b.clear()
	return err
}

func (b *deadlineBody) clear() {
	if !b.cleared {
		b.cleared = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}

// bodyTimeoutWriter answers 408 request_timeout in place of whatever the
// handler answers once the body read has timed out.
type bodyTimeoutWriter struct {
	http.ResponseWriter
	body        *deadlineBody
	timeout     time.Duration
	wroteHeader bool
	discard     bool
}

func (w *bodyTimeoutWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // informational: the real one follows
		return
	}
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	if !w.body.timedOut.Load() {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.discard = true
	h := w.ResponseWriter.Header()
	clear(h)
	h.Set("Connection", "close")
	var body errorBody
	body.Error.Code = codeRequestTimeout
	body.Error.Message = fmt.Sprintf("request body not received within %v", w.timeout)
	writeJSON(w.ResponseWriter, http.StatusRequestTimeout, body)
}

func (w *bodyTimeoutWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.discard {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *bodyTimeoutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// limitListener accepts at most cap(sem) open connections. At the cap
// it makes room by closing the connection that has been idle longest (a
// keep-alive connection between requests, StateIdle as reported by
// trackConnState); with none idle, Accept waits until one closes or goes
// idle. Connections serving a request are never closed here.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	idle      chan struct{} // a connection went idle (buffered, 1)
	closeOnce sync.Once
	log       *slog.Logger
	lastWarn  time.Time // only Accept's goroutine touches lastWarn, lastEvict
	lastEvict time.Time

	mu    sync.Mutex
	conns map[*limitConn]struct{}
}

func newLimitListener(l net.Listener, max int, log *slog.Logger) *limitListener {
	return &limitListener{
		Listener: l, sem: make(chan struct{}, max), done: make(chan struct{}),
		idle: make(chan struct{}, 1), log: log, conns: make(map[*limitConn]struct{}),
	}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for acquired := false; !acquired; {
		select {
		case l.sem <- struct{}{}:
			acquired = true
			continue
		default:
		}
		if l.evictIdle() {
			continue
		}
		if now := time.Now(); now.Sub(l.lastWarn) >= time.Minute {
			l.lastWarn = now
			l.log.Warn("http: connection limit reached and no connection is idle; new connections wait until one closes or goes idle", "maxConns", cap(l.sem))
		}
		select {
		case l.sem <- struct{}{}:
			acquired = true
		case <-l.idle:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	lc := &limitConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
	return lc, nil
}

// evictIdle closes the connection idle longest, if any, which frees its
// slot; it reports whether it closed one.
func (l *limitListener) evictIdle() bool {
	var oldest *limitConn
	var since int64
	l.mu.Lock()
	for c := range l.conns {
		if t := c.idleSince.Load(); t > 0 && (oldest == nil || t < since) {
			oldest, since = c, t
		}
	}
	l.mu.Unlock()
	// Claim it: a connection that turned active meanwhile is left alone.
	if oldest == nil || !oldest.idleSince.CompareAndSwap(since, 0) {
		return false
	}
	if now := time.Now(); now.Sub(l.lastEvict) >= time.Minute {
		l.lastEvict = now
		l.log.Warn("http: connection limit reached; closing idle keep-alive connections to make room", "maxConns", cap(l.sem))
	}
	_ = oldest.Close()
	return true
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn frees its slot once, on the first Close.
type limitConn struct {
	net.Conn
	l         *limitListener
	idleSince atomic.Int64 // UnixNano since the connection went idle; 0: not idle
	once      sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.idleSince.Store(0)
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
		<-c.l.sem
	})
	return err
}

// trackConnState is the http.Server's ConnState hook: it records when a
// connection of a limitListener goes idle, so Accept can close it to make
// room, and wakes an Accept waiting for that.
func trackConnState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	if state != http.StateIdle {
		lc.idleSince.Store(0)
		return
	}
	lc.idleSince.Store(time.Now().UnixNano())
	select {
	case lc.l.idle <- struct{}{}:
	default:
	}
}
