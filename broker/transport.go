package broker

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hookq/hookq/internal/tlsutil"
)

// errPartitioned is returned by a cut stream layer.
var errPartitioned = errors.New("broker: raft transport partitioned")

// errLayerClosed is Accept's error once the layer is closed.
var errLayerClosed = errors.New("broker: raft stream layer closed")

const (
	// raftHandshakeTimeout bounds a Raft connection's handshake (TLS, or
	// the cluster-key preamble) in both directions.
	raftHandshakeTimeout = 5 * time.Second
	// maxPendingHandshakes bounds the incoming connections whose handshake
	// is under way; more are closed at once.
	maxPendingHandshakes = 64
	// maxRaftConns bounds the authenticated incoming Raft connections
	// (Raft pools up to 8 per peer); more are closed at once.
	maxRaftConns = 256
	// raftKeyNonceLen is the size of a preamble challenge.
	raftKeyNonceLen = 32
)

// Labels of the cluster-key preamble, one per direction, so that an answer
// in one direction is never valid in the other.
const (
	raftKeyClientLabel = "hookq-raft-v1"
	raftKeyServerLabel = "hookq-raft-v1-server"
)

// streamLayer is Raft's TCP stream layer, authenticated, with a fault
// switch: Partition closes every Raft connection and refuses new ones in
// both directions, as a network partition would. Production nodes never
// flip it; tests do.
//
// Authentication: mutual TLS when the node has a cluster identity; else,
// when it has a cluster key, a challenge-response preamble (each side
// proves it holds the key with an HMAC-SHA256 of the other's random
// nonce); else none (the node logs that at start).
//
// Every incoming connection is authenticated before Accept returns it, so
// Raft (which allocates large buffers per connection) only ever sees
// authenticated peers: a background loop accepts, each connection
// handshakes on its own goroutine under raftHandshakeTimeout, at most
// maxPendingHandshakes at once, and at most maxRaftConns authenticated
// incoming connections are open at once.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	server    *tls.Config // nil: no TLS
	client    *tls.Config
	key       []byte // cluster key of the preamble when there is no TLS; nil: none
	cut       atomic.Bool
	mu        sync.Mutex
	conns     map[*trackedConn]struct{}
	inbound   int // authenticated incoming connections open, under mu
	pending   chan struct{}
	ready     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	log       *slog.Logger
}

// newStreamLayer listens on bind: mutual TLS with cluster's CA and key
// pair when cluster is set, the cluster-key preamble when only key is,
// unauthenticated TCP when neither is.
func newStreamLayer(bind string, cluster *tlsutil.Cluster, key string, log *slog.Logger) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	adv, err := net.ResolveTCPAddr("tcp", bind)
	if err != nil {
		ln.Close() // #nosec G104 -- cleanup on a failed start: the resolve error is the one returned
		return nil, err
	}
	if adv.IP == nil || adv.IP.IsUnspecified() {
		adv = ln.Addr().(*net.TCPAddr)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	l := &streamLayer{ln: ln, advertise: adv, conns: map[*trackedConn]struct{}{},
		pending: make(chan struct{}, maxPendingHandshakes), ready: make(chan net.Conn),
		done: make(chan struct{}), log: log}
	switch {
	case cluster != nil:
		l.server, l.client = cluster.PeerServer(), cluster.Client()
	case key != "":
		l.key = []byte(key)
	}
	go l.acceptLoop()
	return l, nil
}

func (l *streamLayer) Addr() net.Addr { return l.advertise }

// Close stops accepting; Accept then fails.
func (l *streamLayer) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.ln.Close()
}

// Accept returns the next authenticated incoming connection.
func (l *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, errLayerClosed
	}
}

func (l *streamLayer) acceptLoop() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		if l.cut.Load() {
			c.Close() // #nosec G104 -- refusing a connection while cut; nothing to recover
			continue
		}
		select {
		case l.pending <- struct{}{}:
		default:
			c.Close() // #nosec G104 -- too many handshakes under way: refused, nothing to recover
			continue
		}
		go func() {
			defer func() { <-l.pending }()
			l.admit(c)
		}()
	}
}

// admit authenticates c and hands it to Accept, or closes it.
func (l *streamLayer) admit(c net.Conn) {
	tc := l.track(c)
	_ = tc.SetDeadline(time.Now().Add(raftHandshakeTimeout))
	conn, err := l.serverHandshake(tc)
	if err != nil {
		tc.Close() // #nosec G104 -- refusing a connection that failed to authenticate; the handshake error is logged
		l.log.Debug("raft connection refused", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	_ = tc.SetDeadline(time.Time{})
	l.mu.Lock()
	_, open := l.conns[tc]
	admitted := open && l.inbound < maxRaftConns
	if admitted {
		l.inbound++
		tc.inbound = true
	}
	l.mu.Unlock()
	if !admitted {
		conn.Close() // #nosec G104 -- refusing a connection over the limit; nothing to recover
		if open {
			l.log.Warn("raft connection refused: too many open", "remote", c.RemoteAddr().String(), "max", maxRaftConns)
		}
		return
	}
	select {
	case l.ready <- conn:
	case <-l.done:
		conn.Close() // #nosec G104 -- the transport is closing; nothing to recover
	}
}

func (l *streamLayer) serverHandshake(c net.Conn) (net.Conn, error) {
	switch {
	case l.server != nil:
		conn := tls.Server(c, l.server)
		if err := conn.Handshake(); err != nil {
			return nil, fmt.Errorf("broker: raft tls handshake from %s: %w", c.RemoteAddr(), err)
		}
		return conn, nil
	case l.key != nil:
		if err := keyServer(c, l.key); err != nil {
			return nil, fmt.Errorf("broker: raft cluster-key handshake from %s: %w", c.RemoteAddr(), err)
		}
	}
	return c, nil
}

func (l *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if l.cut.Load() {
		return nil, errPartitioned
	}
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	tc := l.track(c)
	if l.client == nil && l.key == nil {
		return tc, nil
	}
	if timeout <= 0 || timeout > raftHandshakeTimeout {
		timeout = raftHandshakeTimeout
	}
	_ = tc.SetDeadline(time.Now().Add(timeout))
	var conn net.Conn = tc
	if l.client != nil {
		t := tls.Client(tc, l.client)
		err = t.Handshake()
		conn = t
	} else {
		err = keyClient(tc, l.key)
	}
	if err != nil {
		conn.Close() // #nosec G104 -- the handshake error is the one returned
		return nil, fmt.Errorf("broker: raft handshake with %s: %w", addr, err)
	}
	_ = tc.SetDeadline(time.Time{})
	return conn, nil
}

// raftKeyMAC is HMAC-SHA256(key, nonce || label).
func raftKeyMAC(key, nonce []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(nonce)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// keyServer runs the server side of the cluster-key preamble: it sends a
// nonce, reads the client's answer and its own nonce, checks the answer
// in constant time, and answers the client's nonce.
func keyServer(c net.Conn, key []byte) error {
	nonce := make([]byte, raftKeyNonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	if _, err := c.Write(nonce); err != nil {
		return err
	}
	buf := make([]byte, sha256.Size+raftKeyNonceLen)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(buf[:sha256.Size], raftKeyMAC(key, nonce, raftKeyClientLabel)) != 1 {
		return errors.New("wrong cluster key")
	}
	_, err := c.Write(raftKeyMAC(key, buf[sha256.Size:], raftKeyServerLabel))
	return err
}

// keyClient runs the client side: it answers the server's nonce, sends
// its own, and checks the server's answer.
func keyClient(c net.Conn, key []byte) error {
	nonce := make([]byte, raftKeyNonceLen)
	if _, err := io.ReadFull(c, nonce); err != nil {
		return err
	}
	mine := make([]byte, raftKeyNonceLen)
	if _, err := rand.Read(mine); err != nil {
		return err
	}
	if _, err := c.Write(append(raftKeyMAC(key, nonce, raftKeyClientLabel), mine...)); err != nil {
		return err
	}
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, raftKeyMAC(key, mine, raftKeyServerLabel)) != 1 {
		return errors.New("the peer does not hold the cluster key")
	}
	return nil
}

func (l *streamLayer) track(c net.Conn) *trackedConn {
	t := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[t] = struct{}{}
	l.mu.Unlock()
	return t
}

// partition cuts (true) or heals (false) the layer.
func (l *streamLayer) partition(cut bool) {
	l.cut.Store(cut)
	if !cut {
		return
	}
	l.mu.Lock()
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close() // #nosec G104 -- closing every connection on shutdown; nothing to recover
	}
}

type trackedConn struct {
	net.Conn
	l       *streamLayer
	once    sync.Once
	inbound bool // counted in l.inbound; under l.mu
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		if c.inbound {
			c.l.inbound--
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// Partition cuts (or heals) this node's Raft transport: a fault-injection
// switch for tests of partitions. Client-facing listeners are unaffected.
func (b *Broker) Partition(cut bool) { b.layer.partition(cut) }
