package api_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/internal/tlsutil"
	"github.com/hookq/hookq/internal/tlsutil/tlstest"
)

// serveTLS serves an api.Server with cfg over TLS (a cluster certificate)
// through Serve, on a listener it returns with the CA to trust.
func serveTLS(t *testing.T, cfg api.Config) (net.Listener, *tlstest.CA) {
	t.Helper()
	ca := tlstest.NewCA(t, "cluster")
	cluster := ca.Cluster(t, "n1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPAddr, cfg.AdminToken, cfg.TLS = ln.Addr().String(), adminToken, tlsutil.Listener(nil, cluster)
	s := api.New(cfg, brokertest.MustOpen(t))
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
	})
	return ln, ca
}

// On the TLS listener too, idle keep-alive connections (HTTP/1.1 and
// HTTP/2) holding every slot are closed to make room for new clients.
func TestMaxConnsClosesIdleTLSConnections(t *testing.T) {
	const maxConns = 4
	ln, ca := serveTLS(t, api.Config{MaxConns: maxConns})
	client := func(h2 bool) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: tlsutil.ClusterServerName, RootCAs: ca.Pool}, ForceAttemptHTTP2: h2}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Timeout: 5 * time.Second, Transport: tr}
	}
	url := "https://" + ln.Addr().String() + "/healthz"
	for i := 0; i < 3*maxConns; i++ { // each client keeps its connection open, idle
		h2 := i%2 == 0
		resp, err := client(h2).Get(url)
		if err != nil {
			t.Fatalf("client %d with %d slots held by idle connections: %v", i, maxConns, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || h2 != (resp.ProtoMajor == 2) {
			t.Fatalf("client %d: status %d over %s, want 200 (h2 %v)", i, resp.StatusCode, resp.Proto, h2)
		}
	}
}

// On the TLS listener, an HTTP/2 connection is told at most
// api.HTTP2MaxConcurrentStreams (16) concurrent streams, and a receive
// window of at most 1 MiB, in the server's SETTINGS.
func TestHTTP2SettingsCapStreamsPerConnection(t *testing.T) {
	ln, ca := serveTLS(t, api.Config{})
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		NextProtos: []string{"h2"}, ServerName: tlsutil.ClusterServerName, RootCAs: ca.Pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	// Client preface and an empty SETTINGS frame.
	if _, err := io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
		t.Fatal(err)
	}
	var hdr [9]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
	if hdr[3] != 0x4 || hdr[4]&0x1 != 0 {
		t.Fatalf("first frame type %d flags %d, want the server's SETTINGS", hdr[3], hdr[4])
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(c, payload); err != nil {
		t.Fatal(err)
	}
	settings := map[uint16]uint32{}
	for i := 0; i+6 <= len(payload); i += 6 {
		settings[binary.BigEndian.Uint16(payload[i:])] = binary.BigEndian.Uint32(payload[i+2:])
	}
	const maxConcurrentStreams, initialWindowSize = 0x3, 0x4
	if v, ok := settings[maxConcurrentStreams]; !ok || v != 16 {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d (sent %v), want 16", v, ok)
	}
	if v, ok := settings[initialWindowSize]; ok && v > 1<<20 {
		t.Fatalf("SETTINGS_INITIAL_WINDOW_SIZE = %d, want at most 1 MiB", v)
	}
}
