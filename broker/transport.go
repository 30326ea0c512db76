package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hookq/hookq/internal/tlsutil"
)

// errPartitioned is returned by a cut stream layer.
var errPartitioned = errors.New("broker: raft transport partitioned")

// tlsHandshakeTimeout bounds a Raft connection's TLS handshake.
const tlsHandshakeTimeout = 10 * time.Second

// streamLayer is Raft's TCP stream layer, with mutual TLS when the node
// has a cluster identity, and a fault switch: Partition closes every Raft
// connection and refuses new ones in both directions, as a network
// partition would. Production nodes never flip it; tests do.
//
// With TLS, an accepted connection is handed to Raft before its handshake
// (Raft reads it on its own goroutine, so a slow client cannot stall the
// accept loop); the first read runs the handshake, which fails unless the
// client presents a voter certificate of the cluster CA, and then nothing
// the client sent is read.
type streamLayer struct {
	net.Listener
	advertise net.Addr
	server    *tls.Config // nil: plain TCP
	client    *tls.Config
	cut       atomic.Bool
	mu        sync.Mutex
	conns     map[*trackedConn]struct{}
}

// newStreamLayer listens on bind: plain TCP when cluster is nil, mutual
// TLS with its CA and key pair otherwise.
func newStreamLayer(bind string, cluster *tlsutil.Cluster) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	adv, err := net.ResolveTCPAddr("tcp", bind)
	if err != nil {
		ln.Close()
		return nil, err
	}
	if adv.IP == nil || adv.IP.IsUnspecified() {
		adv = ln.Addr().(*net.TCPAddr)
	}
	l := &streamLayer{Listener: ln, advertise: adv, conns: map[*trackedConn]struct{}{}}
	if cluster != nil {
		l.server, l.client = cluster.PeerServer(), cluster.Client()
	}
	return l, nil
}

func (l *streamLayer) Addr() net.Addr { return l.advertise }

func (l *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if l.cut.Load() {
		return nil, errPartitioned
	}
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	tc := l.track(c)
	if l.client == nil {
		return tc, nil
	}
	if timeout <= 0 || timeout > tlsHandshakeTimeout {
		timeout = tlsHandshakeTimeout
	}
	conn := tls.Client(tc, l.client)
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if err := conn.Handshake(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("broker: raft tls handshake with %s: %w", addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, nil
}

func (l *streamLayer) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.cut.Load() {
			c.Close()
			continue
		}
		tc := l.track(c)
		if l.server == nil {
			return tc, nil
		}
		return &serverTLSConn{Conn: tls.Server(tc, l.server)}, nil
	}
}

// serverTLSConn runs the server handshake on the first read, under a
// deadline, so a client that never finishes it cannot hold the
// connection forever.
type serverTLSConn struct {
	*tls.Conn
	once sync.Once
	err  error
}

func (c *serverTLSConn) Read(p []byte) (int, error) {
	c.once.Do(func() {
		_ = c.Conn.SetReadDeadline(time.Now().Add(tlsHandshakeTimeout))
		if err := c.Conn.Handshake(); err != nil {
			c.err = fmt.Errorf("broker: raft tls handshake from %s: %w", c.RemoteAddr(), err)
			return
		}
		_ = c.Conn.SetReadDeadline(time.Time{})
	})
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(p)
}

func (l *streamLayer) track(c net.Conn) net.Conn {
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
		c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l    *streamLayer
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// Partition cuts (or heals) this node's Raft transport: a fault-injection
// switch for tests of partitions. Client-facing listeners are unaffected.
func (b *Broker) Partition(cut bool) { b.layer.partition(cut) }
