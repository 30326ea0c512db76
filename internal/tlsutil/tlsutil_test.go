package tlsutil_test

import (
	"context"
	"crypto/tls"
	"errors"
	"math/big"
	"net"
	"os"
	"testing"
	"time"

	"github.com/hookq/hookq/internal/tlsutil"
	"github.com/hookq/hookq/internal/tlsutil/tlstest"
)

// serve accepts TLS connections with cfg on 127.0.0.1 and completes their
// handshakes; it returns the address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				buf := make([]byte, 1)
				_, _ = c.Read(buf) // until the client closes
			}()
		}
	}()
	return ln.Addr().String()
}

// handshake dials addr with cfg and returns the served leaf's serial, or
// the error of the handshake (including the server's verdict on our
// certificate, which TLS 1.3 delivers on the first read).
func handshake(addr string, cfg *tls.Config) (*big.Int, error) {
	d := &tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tc := c.(*tls.Conn)
	_ = tc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := tc.Read(make([]byte, 1)); err != nil {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return nil, err
		}
	}
	return tc.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// presenting is a client config trusting ca that presents c (when not
// nil) whatever CAs the server asks for, as an attacker would.
func presenting(ca *tlstest.CA, c *tls.Certificate) *tls.Config {
	cfg := &tls.Config{RootCAs: ca.Pool, ServerName: tlsutil.ClusterServerName}
	if c != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return c, nil }
	}
	return cfg
}

func TestKeypairReloadKeepsThePreviousPairWhenTheNewOneIsBad(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	first := ca.Server(t, "a")
	kp, err := tlsutil.LoadKeypair(first.CertFile, first.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(first.CertFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := kp.Reload(); err == nil {
		t.Fatal("reload of a broken pair succeeded")
	}
	if got := kp.Certificate().Leaf.SerialNumber; got.Cmp(first.Serial) != 0 {
		t.Fatalf("serial after a bad reload = %v, want the first %v", got, first.Serial)
	}
	second := ca.IssueTo(t, tlstest.Opts{CommonName: "b", DNS: []string{"localhost"}, Server: true}, first.CertFile, first.KeyFile)
	if err := kp.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := kp.Certificate().Leaf.SerialNumber; got.Cmp(second.Serial) != 0 {
		t.Fatalf("serial after reload = %v, want %v", got, second.Serial)
	}
}

func TestKeypairWatchPicksUpARotatedPair(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	first := ca.Server(t, "a")
	kp, err := tlsutil.LoadKeypair(first.CertFile, first.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go kp.Watch(ctx, 10*time.Millisecond)
	addr := serve(t, tlsutil.Listener(kp, nil))
	client := &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"}
	if got, err := handshake(addr, client); err != nil || got.Cmp(first.Serial) != 0 {
		t.Fatalf("first serial %v %v, want %v", got, err, first.Serial)
	}
	second := ca.IssueTo(t, tlstest.Opts{CommonName: "b", DNS: []string{"localhost"}, Server: true}, first.CertFile, first.KeyFile)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := handshake(addr, client)
		if err == nil && got.Cmp(second.Serial) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("served serial %v %v, want the rotated %v", got, err, second.Serial)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A listener shows the cluster certificate to clients asking for
// ClusterServerName and the public one to everyone else; a client
// certificate from another CA fails the handshake, none at all passes
// (public clients) but is not a verified peer.
func TestListenerChoosesTheCertificateBySNI(t *testing.T) {
	clusterCA, publicCA, otherCA := tlstest.NewCA(t, "cluster"), tlstest.NewCA(t, "public"), tlstest.NewCA(t, "other")
	pub := publicCA.Server(t, "public")
	pkp, err := tlsutil.LoadKeypair(pub.CertFile, pub.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := clusterCA.Cluster(t, "n1")
	addr := serve(t, tlsutil.Listener(pkp, cl))

	if got, err := handshake(addr, &tls.Config{RootCAs: publicCA.Pool, ServerName: "localhost"}); err != nil || got.Cmp(pub.Serial) != 0 {
		t.Fatalf("public client: serial %v %v, want %v", got, err, pub.Serial)
	}
	if got, err := handshake(addr, clusterCA.Cluster(t, "n2").Client()); err != nil || got.Cmp(cl.Cert.Certificate().Leaf.SerialNumber) != 0 {
		t.Fatalf("cluster client: serial %v %v, want the cluster certificate", got, err)
	}
	rogue := otherCA.Node(t, "rogue")
	if _, err := handshake(addr, presenting(clusterCA, &rogue.Cert)); err == nil {
		t.Fatal("a client certificate from another CA passed the handshake")
	}
}

func TestPeerServerAdmitsOnlyVoterCertificatesOfTheClusterCA(t *testing.T) {
	ca, other := tlstest.NewCA(t, "cluster"), tlstest.NewCA(t, "other")
	addr := serve(t, ca.Cluster(t, "n1").PeerServer())
	voter := ca.Node(t, "n2")
	ingest := ca.Issue(t, tlstest.Opts{CommonName: "ingest", Client: true})
	rogue := other.Node(t, "rogue")
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		ok   bool
	}{
		{"voter", &voter.Cert, true},
		{"no certificate", nil, false},
		{"client-only certificate without the cluster name", &ingest.Cert, false},
		{"certificate of another CA", &rogue.Cert, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := handshake(addr, presenting(ca, tc.cert))
			if (err == nil) != tc.ok {
				t.Fatalf("handshake err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// Issue 9 review, item 4: a reloaded cluster pair passes the checks of
// the first load (it chains to the cluster CA and has not expired), and a
// voter's stays valid for the cluster name; otherwise the pair in use
// stays. A good rotation is still taken.
func TestClusterReloadRefusesAPairTheNodeWouldRefuseAtStart(t *testing.T) {
	ca, rogue := tlstest.NewCA(t, "cluster"), tlstest.NewCA(t, "rogue")
	first := ca.Node(t, "n1")
	c, err := tlsutil.LoadCluster(ca.CAFile, first.CertFile, first.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	expired := tlstest.NodeOpts("n1")
	expired.NotAfter = time.Now().Add(-time.Minute)
	clientOnly := tlstest.Opts{CommonName: "n1", Client: true}
	for _, tc := range []struct {
		name  string
		issue func() tlstest.Issued
	}{
		{"pair of another CA", func() tlstest.Issued { return rogue.IssueTo(t, tlstest.NodeOpts("n1"), first.CertFile, first.KeyFile) }},
		{"expired pair of the cluster CA", func() tlstest.Issued { return ca.IssueTo(t, expired, first.CertFile, first.KeyFile) }},
		{"client-only pair replacing a voter's", func() tlstest.Issued { return ca.IssueTo(t, clientOnly, first.CertFile, first.KeyFile) }},
	} {
		tc.issue()
		if err := c.Cert.Reload(); err == nil {
			t.Errorf("%s: reload succeeded", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
		if got := c.Cert.Certificate().Leaf.SerialNumber; got.Cmp(first.Serial) != 0 {
			t.Errorf("%s: serial in use %v, want the first %v", tc.name, got, first.Serial)
		}
	}
	second := ca.IssueTo(t, tlstest.NodeOpts("n1"), first.CertFile, first.KeyFile)
	if err := c.Cert.Reload(); err != nil {
		t.Fatalf("a good rotation: %v", err)
	}
	if got := c.Cert.Certificate().Leaf.SerialNumber; got.Cmp(second.Serial) != 0 {
		t.Fatalf("serial after a good rotation %v, want %v", got, second.Serial)
	}
}
