// Package tlstest makes throw-away certificate authorities and
// certificates for tests, written as PEM files in the test's temporary
// directory. It is for tests only: keys are generated quickly (ECDSA
// P-256) and live on disk unprotected.
package tlstest

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
	"testing"
	"time"

	"github.com/hookq/hookq/internal/tlsutil"
)

// CA is a test certificate authority.
type CA struct {
	Name   string
	Cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	Pool   *x509.CertPool
	CAFile string // PEM of Cert
	dir    string
}

// NewCA makes a self-signed CA and writes its certificate to a file.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	ca := &CA{Name: name, Cert: cert, key: key, Pool: x509.NewCertPool(), dir: tb.TempDir()}
	ca.Pool.AddCert(cert)
	ca.CAFile = filepath.Join(ca.dir, "ca.pem")
	writePEM(tb, ca.CAFile, "CERTIFICATE", der)
	return ca
}

// Opts describes a certificate to issue.
type Opts struct {
	CommonName string
	DNS        []string
	IPs        []net.IP
	// Server and Client set the extended key usages.
	Server, Client bool
	// NotAfter, when set, ends the validity (default: a day from now).
	NotAfter time.Time
}

// Issued is a certificate and its key, in memory and on disk.
type Issued struct {
	Cert     tls.Certificate
	Serial   *big.Int
	CertFile string
	KeyFile  string
}

// Issue signs a new certificate (fresh key, random serial) and writes the
// pair to two new files.
func (ca *CA) Issue(tb testing.TB, o Opts) Issued {
	tb.Helper()
	dir, err := os.MkdirTemp(ca.dir, "cert")
	if err != nil {
		tb.Fatal(err)
	}
	is := ca.issue(tb, o, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	return is
}

// IssueTo signs a new certificate and writes it over certFile and
// keyFile (a rotation).
func (ca *CA) IssueTo(tb testing.TB, o Opts, certFile, keyFile string) Issued {
	tb.Helper()
	return ca.issue(tb, o, certFile, keyFile)
}

func (ca *CA) issue(tb testing.TB, o Opts, certFile, keyFile string) Issued {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: o.CommonName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     o.DNS,
		IPAddresses:  o.IPs,
	}
	if !o.NotAfter.IsZero() {
		tmpl.NotAfter = o.NotAfter
	}
	if o.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if o.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	// Key first: a watcher that sees the new certificate next to the old
	// key would load a mismatched pair (and keep the old one).
	writePEM(tb, keyFile, "PRIVATE KEY", kder)
	writePEM(tb, certFile, "CERTIFICATE", der)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		tb.Fatal(err)
	}
	return Issued{Cert: pair, Serial: tmpl.SerialNumber, CertFile: certFile, KeyFile: keyFile}
}

// Node issues a voter certificate: DNS SAN tlsutil.ClusterServerName plus
// localhost and 127.0.0.1, for both server and client authentication.
func (ca *CA) Node(tb testing.TB, name string) Issued {
	tb.Helper()
	return ca.Issue(tb, NodeOpts(name))
}

// NodeOpts are the options of Node.
func NodeOpts(name string) Opts {
	return Opts{
		CommonName: name, DNS: []string{tlsutil.ClusterServerName, "localhost"},
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true,
	}
}

// Server issues a public server certificate for localhost and 127.0.0.1.
func (ca *CA) Server(tb testing.TB, name string) Issued {
	tb.Helper()
	return ca.Issue(tb, Opts{CommonName: name, DNS: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
}

// Cluster issues a voter certificate and loads it with the CA as a
// tlsutil.Cluster.
func (ca *CA) Cluster(tb testing.TB, name string) *tlsutil.Cluster {
	tb.Helper()
	is := ca.Node(tb, name)
	c, err := tlsutil.LoadCluster(ca.CAFile, is.CertFile, is.KeyFile, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		tb.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

// writePEM writes one PEM block atomically (temporary file, rename), so a
// concurrent reader sees the old file or the new one.
func writePEM(tb testing.TB, file, typ string, der []byte) {
	tb.Helper()
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		tb.Fatal(err)
	}
}
