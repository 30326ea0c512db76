package client_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookq/hookq/api/apitest"
	"github.com/hookq/hookq/api/client"
)

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it;
// it returns the server's TLS certificate and the CA's PEM.
func testCA(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hookq test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// TestTLSWithCAFile reaches a node through TLS on both transports, the
// server's certificate checked against Options.CAFile; a client without
// the CA is refused by the certificate check (unavailable).
func TestTLSWithCAFile(t *testing.T) {
	n := apitest.Start(t)
	n.Queue(t, "tls", nil)
	cert, caPEM := testCA(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	grpcTLS := startTLSProxy(t, n.GRPCAddr, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12})
	httpTLS := startTLSProxy(t, strings.TrimPrefix(n.HTTPURL, "http://"), &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12})
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			opts := client.Options{GRPCTargets: []string{grpcTLS.addr()}, HTTPURL: "https://" + httpTLS.addr(), Token: n.AdminToken, Transport: tr, CAFile: caFile}
			c, err := client.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = c.Close() }()
			ids, err := c.Publish(ctxT(t), "tls", client.Message{Body: []byte("secret")})
			if err != nil || len(ids) != 1 {
				t.Fatalf("publish over TLS: %v", err)
			}
			ds, err := c.Lease(ctxT(t), "tls", client.LeaseOptions{Max: 1, Wait: 5 * time.Second})
			if err != nil || len(ds) != 1 || string(ds[0].Payload) != "secret" {
				t.Fatalf("lease over TLS: %+v, %v", ds, err)
			}
			if err := c.Ack(ctxT(t), "tls", ds[0].Meta.DeliveryID); err != nil {
				t.Fatalf("ack over TLS: %v", err)
			}

			opts.CAFile = ""
			opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12} // system roots: the test CA is not among them
			untrusting, err := client.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = untrusting.Close() }()
			if _, err := untrusting.Publish(ctxT(t), "tls", client.Message{Body: []byte("x")}); !client.IsUnavailable(err) {
				t.Errorf("publish without the CA = %v, want unavailable (certificate refused)", err)
			}
		})
	}
}
