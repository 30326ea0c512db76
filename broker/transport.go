package broker

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// errPartitioned is returned by a cut stream layer.
var errPartitioned = errors.New("broker: raft transport partitioned")

// streamLayer is Raft's TCP stream layer with a fault switch: Partition
// closes every Raft connection and refuses new ones in both directions, as
// a network partition would. Production nodes never flip it; tests do.
type streamLayer struct {
	net.Listener
	advertise net.Addr
	cut       atomic.Bool
	mu        sync.Mutex
	conns     map[*trackedConn]struct{}
}

func newStreamLayer(bind string) (*streamLayer, error) {
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
	return &streamLayer{Listener: ln, advertise: adv, conns: map[*trackedConn]struct{}{}}, nil
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
	return l.track(c), nil
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
		return l.track(c), nil
	}
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
