package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookq/hookq/internal/tlsutil"
	"github.com/hookq/hookq/internal/tlsutil/tlstest"
	pb "github.com/hookq/hookq/proto/raftcmd"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

const tlsClusterKey = "tls-cluster-key"

// certs of one test: the cluster CA that signs node certificates and the
// public CA that signs the listeners' certificate.
type certs struct {
	cluster, public *tlstest.CA
	pub             tlstest.Issued
}

func newCerts(t *testing.T) *certs {
	t.Helper()
	c := &certs{cluster: tlstest.NewCA(t, "hookq cluster CA"), public: tlstest.NewCA(t, "public CA")}
	c.pub = c.public.Server(t, "public")
	return c
}

// tlsArgs are the certificate flags of a node: the shared public pair and
// a fresh cluster certificate issued with o.
func (c *certs) tlsArgs(t *testing.T, o tlstest.Opts) []string {
	t.Helper()
	is := c.cluster.Issue(t, o)
	return []string{"--tls-cert", c.pub.CertFile, "--tls-key", c.pub.KeyFile,
		"--cluster-ca", c.cluster.CAFile, "--cluster-tls-cert", is.CertFile, "--cluster-tls-key", is.KeyFile}
}

// https is a client of the public listeners: it trusts the public CA.
func (c *certs) https() *http.Client {
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.public.Pool}}}
}

func (p *proc) surl(path string) string { return "https://" + p.http + path }

// callWith is call with another client.
func callWith(c *http.Client, method, url string, body any, hdr ...string) (int, []byte, http.Header, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testAdmin)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header, err
}

// within polls cond every 50ms until it holds, or fails the test with
// the last explanation after timeout.
func within(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, timeout, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) waitReadyWith(t *testing.T, c *http.Client) {
	t.Helper()
	within(t, 30*time.Second, p.id+" ready", func() (bool, string) {
		if !p.alive() {
			t.Fatalf("%s exited:\n%s", p.id, p.log())
		}
		code, out, _, err := callWith(c, "GET", p.surl("/readyz"), nil)
		return err == nil && code == 200, fmt.Sprintf("%d %v %s\n%s", code, err, out, p.log())
	})
}

// healthyVoters counts the healthy voters in p's cluster view and says
// whether id is a member.
func healthyVoters(c *http.Client, p *proc, id string) (int, bool, error) {
	code, out, _, err := callWith(c, "GET", p.surl("/v1/cluster"), nil)
	if err != nil || code != 200 {
		return 0, false, fmt.Errorf("%d %v %s", code, err, out)
	}
	var v clusterView
	if err := json.Unmarshal(out, &v); err != nil {
		return 0, false, err
	}
	n, has := 0, false
	for _, nd := range v.Nodes {
		if nd.Suffrage == "voter" && nd.Healthy {
			n++
		}
		has = has || nd.ID == id
	}
	return n, has, nil
}

// HTTPS and gRPC-over-mTLS end to end with the real binary: a voter
// serving HTTPS, a second voter joining it over mutual TLS, an ingest node
// forwarding over mutual-TLS gRPC; webhooks in over HTTPS, next + ack over
// HTTPS; plain HTTP to a TLS port answered 400; a client with a
// certificate of another CA (holding the admin token and the cluster key)
// cannot join.
func TestTLSClusterEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	c := newCerts(t)
	hc := c.https()
	n1 := newProc(t, "n1", append(c.tlsArgs(t, tlstest.NodeOpts("n1")), "--cluster-key", tlsClusterKey)...)
	n1.start()
	n1.waitReadyWith(t, hc)
	code, out, _, err := callWith(hc, "PUT", n1.surl("/v1/queues/orders"), map[string]any{"visibilityTimeout": "30s"})
	if err != nil || code != 201 {
		t.Fatalf("put queue over https: %d %v %s", code, err, out)
	}
	code, out, _, err = callWith(hc, "PUT", n1.surl("/v1/sources/orders"), map[string]any{"queues": []string{"orders"}, "verify": map[string]any{"type": "none"}})
	if err != nil || code != 201 {
		t.Fatalf("put source over https: %d %v %s", code, err, out)
	}

	n2 := newProc(t, "n2", append(c.tlsArgs(t, tlstest.NodeOpts("n2")), "--cluster-key", tlsClusterKey, "--join", n1.surl(""))...)
	n2.start()
	within(t, 30*time.Second, "n2 joins over mutual TLS", func() (bool, string) {
		n, _, err := healthyVoters(hc, n1, "")
		return n == 2, fmt.Sprintf("%d healthy voters, %v\n%s", n, err, n2.log())
	})
	n2.waitReadyWith(t, hc)

	// An ingest node with a client-only certificate of the cluster CA.
	ing := newProc(t, "in1")
	ing.args = append([]string{"serve", "--role", "ingest", "--node-id", "in1", "--http-addr", ing.http, "--log-level", "warn",
		"--cluster-key", tlsClusterKey, "--seeds", n1.surl("") + "," + n2.surl("")},
		c.tlsArgs(t, tlstest.Opts{CommonName: "in1", Client: true})...)
	ing.start()
	ing.waitReadyWith(t, hc)

	t.Run("ingest over HTTPS, forwarded over mTLS gRPC; next and ack over HTTPS", func(t *testing.T) {
		for _, via := range []*proc{ing, n2, n1} {
			var code int
			within(t, 10*time.Second, "POST /hooks via "+via.id, func() (bool, string) {
				var out []byte
				var err error
				code, out, _, err = callWith(hc, "POST", via.surl("/hooks/orders"), `{"via":"`+via.id+`"}`, "Content-Type", "application/json")
				return err == nil && code == http.StatusAccepted, fmt.Sprintf("%d %v %s", code, err, out)
			})
		}
		got := map[string]bool{}
		for range 3 {
			code, body, hdr, err := callWith(hc, "GET", n1.surl("/v1/queues/orders/next?wait=5s"), nil)
			if err != nil || code != 200 {
				t.Fatalf("next over https: %d %v %s", code, err, body)
			}
			var meta struct {
				AckURL string `json:"ackUrl"`
			}
			if err := json.Unmarshal([]byte(hdr.Get("X-Hookq-Meta")), &meta); err != nil || !strings.HasPrefix(meta.AckURL, "https://") {
				t.Fatalf("meta %q: %v; want an https ackUrl", hdr.Get("X-Hookq-Meta"), err)
			}
			if code, out, _, err := callWith(hc, "POST", meta.AckURL, nil); err != nil || code != 204 {
				t.Fatalf("ack over https: %d %v %s", code, err, out)
			}
			got[string(body)] = true
		}
		for _, id := range []string{"in1", "n2", "n1"} {
			if !got[`{"via":"`+id+`"}`] {
				t.Fatalf("consumed %v: the webhook sent via %s is missing", got, id)
			}
		}
	})

	t.Run("plain HTTP to a TLS port is answered 400", func(t *testing.T) {
		for _, p := range []*proc{n1, ing} {
			code, out, _, err := call("GET", p.url("/healthz"), nil)
			if err != nil || code != http.StatusBadRequest || !strings.Contains(string(out), "HTTP request to an HTTPS server") {
				t.Fatalf("plain HTTP to %s: %d %v %q", p.id, code, err, out)
			}
		}
	})

	t.Run("plaintext gRPC to the gRPC port fails", func(t *testing.T) {
		cc, err := grpc.NewClient(n1.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = pb.NewClusterClient(cc).Sources(ctx, &pb.SourcesRequest{})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("plaintext gRPC: %v, want Unavailable", err)
		}
	})

	t.Run("a certificate of another CA cannot join", func(t *testing.T) {
		rogue := tlstest.NewCA(t, "rogue").Node(t, "n3")
		body := map[string]string{"id": "n3", "raftAddr": freePort(t), "httpAddr": freePort(t), "grpcAddr": freePort(t)}
		join := func(cert *tls.Certificate) (int, []byte, error) {
			cfg := &tls.Config{RootCAs: c.cluster.Pool, ServerName: tlsutil.ClusterServerName}
			if cert != nil {
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
			}
			cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
			// The admin token (callWith) and, on a second try, the cluster key.
			code, out, _, err := callWith(cl, "POST", n1.surl("/v1/cluster/join"), body)
			if err == nil && code != 204 {
				code, out, _, err = callWith(cl, "POST", n1.surl("/v1/cluster/join"), body, "Authorization", "Bearer "+tlsClusterKey)
			}
			return code, out, err
		}
		if code, out, err := join(&rogue.Cert); err == nil {
			t.Fatalf("join with a certificate of another CA: %d %s; want a TLS handshake failure", code, out)
		} else {
			t.Logf("rogue certificate: %v", err)
		}
		if code, out, err := join(nil); err != nil || code != http.StatusForbidden {
			t.Fatalf("join without a client certificate: %d %v %s; want 403", code, err, out)
		}
		if _, has, err := healthyVoters(hc, n1, "n3"); err != nil || has {
			t.Fatalf("n3 in the cluster view: %v %v", has, err)
		}
	})
}

// pubOpts is a public server certificate for localhost and 127.0.0.1.
func pubOpts(name string) tlstest.Opts {
	return tlstest.Opts{CommonName: name, DNS: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true}
}

// servedSerial is the serial of the certificate addr serves to cfg.
func servedSerial(addr string, cfg *tls.Config) (*big.Int, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// Certificates rotate without a restart: after SIGHUP the node serves the
// new public and cluster certificates; a broken new pair is logged and the
// old one kept; with a short --tls-reload-interval a changed file is picked
// up without a signal.
func TestCertificatesReloadOnSIGHUPAndFileChange(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	c := newCerts(t)
	nodeCert := c.cluster.Node(t, "n1")
	args := []string{"--tls-cert", c.pub.CertFile, "--tls-key", c.pub.KeyFile, "--cluster-ca", c.cluster.CAFile,
		"--cluster-tls-cert", nodeCert.CertFile, "--cluster-tls-key", nodeCert.KeyFile}
	// An hour between polls: only the signal can reload within the test.
	n1 := newProc(t, "n1", append(args, "--tls-reload-interval", "1h")...)
	n1.start()
	hc := c.https()
	n1.waitReadyWith(t, hc)
	public := &tls.Config{RootCAs: c.public.Pool, ServerName: "localhost"}
	cluster := c.cluster.Cluster(t, "probe").Client()
	expect := func(what string, addr string, cfg *tls.Config, want *big.Int) {
		t.Helper()
		within(t, 10*time.Second, what, func() (bool, string) {
			got, err := servedSerial(addr, cfg)
			return err == nil && got.Cmp(want) == 0, fmt.Sprintf("served %v %v, want %v", got, err, want)
		})
	}
	expect("initial public certificate", n1.http, public, c.pub.Serial)
	expect("initial cluster certificate on the gRPC port", n1.grpc, cluster, nodeCert.Serial)

	pub2 := c.public.IssueTo(t, pubOpts("public-2"), c.pub.CertFile, c.pub.KeyFile)
	node2 := c.cluster.IssueTo(t, tlstest.NodeOpts("n1-2"), nodeCert.CertFile, nodeCert.KeyFile)
	if got, err := servedSerial(n1.http, public); err != nil || got.Cmp(c.pub.Serial) != 0 {
		t.Fatalf("before SIGHUP: served %v %v, want the old %v", got, err, c.pub.Serial)
	}
	if err := n1.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	expect("public certificate after SIGHUP", n1.http, public, pub2.Serial)
	expect("cluster certificate after SIGHUP", n1.grpc, cluster, node2.Serial)
	expect("public certificate on the gRPC port after SIGHUP", n1.grpc, public, pub2.Serial)

	// A broken pair: logged, the previous one stays.
	if err := os.WriteFile(c.pub.CertFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n1.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, "the failed reload is logged", func() (bool, string) {
		return strings.Contains(n1.log(), "reloading key pair failed"), n1.log()
	})
	expect("public certificate after a broken rotation", n1.http, public, pub2.Serial)
	if !n1.alive() {
		t.Fatalf("node exited:\n%s", n1.log())
	}

	// Without a signal, a short poll interval picks up a changed file.
	n1.kill()
	n2 := newProc(t, "n2", append(args, "--tls-reload-interval", "100ms")...)
	pub3 := c.public.IssueTo(t, pubOpts("public-3"), c.pub.CertFile, c.pub.KeyFile)
	n2.start()
	n2.waitReadyWith(t, hc)
	expect("public certificate at start", n2.http, public, pub3.Serial)
	pub4 := c.public.IssueTo(t, pubOpts("public-4"), c.pub.CertFile, c.pub.KeyFile)
	expect("public certificate after the file changed", n2.http, public, pub4.Serial)
}

// runExit runs hookq with args and returns its output, failing the test
// unless it exits non-zero within the timeout.
func runExit(t *testing.T, args ...string) string {
	t.Helper()
	p := newProc(t, "x")
	p.args = args
	p.start()
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("hookq %v did not exit:\n%s", args, p.log())
	}
	if p.cmd.ProcessState.Success() {
		t.Fatalf("hookq %v exited 0:\n%s", args, p.log())
	}
	return p.log()
}

// A node set up for mutual TLS refuses peers given as plaintext URLs, and
// half-given certificate flags; a node without cluster certificates on a
// non-loopback address warns at start.
func TestMTLSNodeRefusesPlaintextPeersAndPlaintextNodesWarn(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	c := newCerts(t)
	mtls := c.tlsArgs(t, tlstest.NodeOpts("n1"))
	// ports are the arguments of a voter that must not start: should it
	// start anyway, it holds only ports of its own.
	ports := func(t *testing.T) []string {
		return []string{"serve", "--data-dir", t.TempDir(), "--http-addr", freePort(t), "--grpc-addr", freePort(t), "--raft-addr", freePort(t), "--admin-token", testAdmin}
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"--join over http", append(append(ports(t), "--join", "http://127.0.0.1:1"), mtls...), "refusing to talk to a peer in plaintext"},
		{"--seeds over http", append([]string{"serve", "--role", "ingest", "--node-id", "in1", "--http-addr", freePort(t), "--cluster-key", "k",
			"--seeds", "https://127.0.0.1:1,http://127.0.0.1:2"}, mtls...), "refusing to talk to a peer in plaintext"},
		{"half the cluster flags", append(ports(t), "--cluster-ca", c.cluster.CAFile), "go together"},
		{"a cluster certificate of another CA", append(ports(t), "--cluster-ca", c.cluster.CAFile,
			"--cluster-tls-cert", c.pub.CertFile, "--cluster-tls-key", c.pub.KeyFile), "--cluster-tls-cert"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if out := runExit(t, tc.args...); !strings.Contains(out, tc.want) {
				t.Fatalf("output %q does not say %q", out, tc.want)
			}
		})
	}

	t.Run("plaintext node on a non-loopback address warns", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(freePort(t))
		p := newProc(t, "n1")
		for i, a := range p.args {
			if a == "--http-addr" {
				p.args[i+1] = net.JoinHostPort("0.0.0.0", port)
				p.http = "127.0.0.1:" + port
			}
		}
		p.start()
		within(t, 20*time.Second, "the plaintext warning", func() (bool, string) {
			return strings.Contains(p.log(), "node-to-node traffic (Raft, forwarding, heartbeats, join) is NOT encrypted"), p.log()
		})
	})
}

// Public TLS without cluster certificates: nodes reach each other's HTTPS
// and gRPC listeners over TLS verified against the system roots (here the
// test CA through SSL_CERT_FILE), authenticated by the cluster key: a node
// joins over HTTPS and webhooks are forwarded over gRPC with TLS.
func TestPublicTLSOnlyClusterJoinsAndForwardsOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	c := newCerts(t)
	t.Setenv("SSL_CERT_FILE", c.public.CAFile) // inherited by the nodes
	hc := c.https()
	pub := []string{"--tls-cert", c.pub.CertFile, "--tls-key", c.pub.KeyFile, "--cluster-key", tlsClusterKey}
	n1 := newProc(t, "n1", pub...)
	n1.start()
	n1.waitReadyWith(t, hc)
	for _, r := range []struct{ path, body string }{
		{"/v1/queues/orders", `{}`},
		{"/v1/sources/orders", `{"queues":["orders"],"verify":{"type":"none"}}`},
	} {
		if code, out, _, err := callWith(hc, "PUT", n1.surl(r.path), r.body); err != nil || code != 201 {
			t.Fatalf("PUT %s: %d %v %s", r.path, code, err, out)
		}
	}
	n2 := newProc(t, "n2", append(pub, "--join", n1.surl(""))...)
	n2.start()
	within(t, 30*time.Second, "n2 joins over HTTPS", func() (bool, string) {
		n, _, err := healthyVoters(hc, n1, "")
		return n == 2, fmt.Sprintf("%d healthy voters, %v\n%s", n, err, n2.log())
	})
	n2.waitReadyWith(t, hc)
	// Whichever node leads, one of these two calls is forwarded over gRPC.
	within(t, 10*time.Second, "POST /hooks via n2", func() (bool, string) {
		code, out, _, err := callWith(hc, "POST", n2.surl("/hooks/orders"), `{"via":"n2"}`)
		return err == nil && code == http.StatusAccepted, fmt.Sprintf("%d %v %s", code, err, out)
	})
	code, body, _, err := callWith(hc, "GET", n1.surl("/v1/queues/orders/next?wait=5s&autoAck=true"), nil)
	if err != nil || code != 200 || string(body) != `{"via":"n2"}` {
		t.Fatalf("next via n1: %d %v %s", code, err, body)
	}
}
