// Package tlsutil owns hookq's TLS plumbing: key pairs that reload from
// disk without a restart, the cluster CA pool, and the tls.Config values
// every listener and every node-to-node dial is built from. It decides
// which certificate a listener shows (by SNI) and what makes a peer a
// cluster member (a chain to the cluster CA). It never reads flags,
// never opens a listener and never decides what a caller may do.
//
// Node-to-node connections carry the fixed TLS server name
// ClusterServerName: a listener shows the cluster certificate to a client
// that asks for that name and the public one (--tls-cert) to everyone
// else, and a node checks that a peer's certificate is valid for that
// name. So every voter certificate carries the DNS SAN "hookq-cluster",
// whatever the node's host name or address.
package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
)

// ClusterServerName is the TLS server name nodes use to reach each other,
// and the DNS SAN a voter's cluster certificate must carry. A certificate
// signed by the cluster CA without it (an ingest node's client-only
// certificate) may call the internal gRPC service but may not speak Raft
// or join.
const ClusterServerName = "hookq-cluster"

// LoadCAPool reads a PEM file of one or more CA certificates.
func LoadCAPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file) // #nosec G304 -- the operator names the file (--cluster-ca)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("tlsutil: ca %s: no PEM certificate found", file)
	}
	return pool, nil
}

// Cluster is a node's mutual-TLS identity: the CA that signs every
// member's certificate and this node's own (reloading) key pair.
type Cluster struct {
	CA   *x509.CertPool
	Cert *Keypair
}

// LoadCluster reads --cluster-ca, --cluster-tls-cert and --cluster-tls-key.
func LoadCluster(caFile, certFile, keyFile string, log *slog.Logger) (*Cluster, error) {
	pool, err := LoadCAPool(caFile)
	if err != nil {
		return nil, err
	}
	kp, err := LoadKeypair(certFile, keyFile, log)
	if err != nil {
		return nil, err
	}
	if err := verifyLeaf(kp.Certificate(), pool); err != nil {
		return nil, fmt.Errorf("tlsutil: cluster certificate %s: %w", certFile, err)
	}
	// A reloaded pair passes the same checks as the first, or the node
	// keeps the one it has (a pair of another CA, or an expired one, would
	// take the node out of the cluster); and a voter's pair stays a
	// voter's.
	kp.mu.Lock()
	kp.check = func(next, prev *tls.Certificate) error {
		if err := verifyLeaf(next, pool); err != nil {
			return fmt.Errorf("not a valid certificate of the cluster CA: %w", err)
		}
		if prev != nil && prev.Leaf.VerifyHostname(ClusterServerName) == nil && next.Leaf.VerifyHostname(ClusterServerName) != nil {
			return fmt.Errorf("the certificate in use is a voter's (valid for %q) and the new one is not", ClusterServerName)
		}
		return nil
	}
	kp.mu.Unlock()
	return &Cluster{CA: pool, Cert: kp}, nil
}

// verifyLeaf checks that a node's own cluster certificate chains to the
// cluster CA: a node with a wrong pair would otherwise start and then fail
// every connection.
func verifyLeaf(c *tls.Certificate, pool *x509.CertPool) error {
	if c == nil || c.Leaf == nil {
		return errors.New("no certificate")
	}
	inter := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(ic)
		}
	}
	_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

// PeerServer is the server side of a connection only cluster members may
// open (the Raft port): the client must present a certificate that chains
// to the cluster CA and names ClusterServerName, or the handshake fails
// before anything it sends is read.
func (c *Cluster) PeerServer() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.Cert.Certificate(), nil },
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      c.CA,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if !VoterPeer(&cs) {
				return fmt.Errorf("tlsutil: peer certificate is not valid for %q", ClusterServerName)
			}
			return nil
		},
	}
}

// Client is the dial side of every node-to-node connection: it verifies
// the server against the cluster CA under ClusterServerName and presents
// this node's certificate.
func (c *Cluster) Client() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    c.CA,
		ServerName: ClusterServerName,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return c.Cert.Certificate(), nil
		},
	}
}

// Listener is the config of a listener that serves the public and the
// cluster at once (HTTP, gRPC). A client asking for ClusterServerName gets
// the cluster certificate; anyone else gets public's, or the cluster's
// when there is no public pair. With a cluster, client certificates are
// asked for and verified against the cluster CA when given
// (VerifyClientCertIfGiven): public clients present none and
// authenticate with bearer tokens, nodes present theirs, and handlers that
// serve only nodes check VerifiedPeer. Nil when both are nil: serve plain.
func Listener(public *Keypair, cluster *Cluster) *tls.Config {
	if public == nil && cluster == nil {
		return nil
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if cluster != nil && (public == nil || hello.ServerName == ClusterServerName) {
				return cluster.Cert.Certificate(), nil
			}
			return public.Certificate(), nil
		},
	}
	if cluster != nil {
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		cfg.ClientCAs = cluster.CA
	}
	return cfg
}

// VerifiedPeer reports whether the client of a connection served with a
// Listener or PeerServer config presented a certificate that chains to
// the cluster CA (the only CA those configs verify client certificates
// against).
func VerifiedPeer(cs *tls.ConnectionState) bool {
	return cs != nil && len(cs.VerifiedChains) > 0 && len(cs.PeerCertificates) > 0
}

// VoterPeer reports whether the client presented a verified cluster
// certificate that is also valid for ClusterServerName: a voter's
// certificate, as opposed to an ingest node's client-only one.
func VoterPeer(cs *tls.ConnectionState) bool {
	return VerifiedPeer(cs) && cs.PeerCertificates[0].VerifyHostname(ClusterServerName) == nil
}
