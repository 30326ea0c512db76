package api_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/internal/tlsutil"
	"github.com/hookq/hookq/internal/tlsutil/tlstest"
)

// Issue 9 review, item 5: with cluster mutual TLS, a node key on HTTP
// (GET /v1/cluster) also needs a client certificate of the cluster CA: a
// bearer alone answers 401. With the certificate it answers 200 (control).
func TestNodeKeysNeedAClusterCertificateUnderMTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "cluster")
	cluster := ca.Cluster(t, "n1")
	b := brokertest.MustOpen(t)
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = api.New(api.Config{HTTPAddr: srv.Listener.Addr().String(), AdminToken: adminToken,
		ClusterKey: testClusterKey, IngestKey: testIngestKey, ClusterTLS: true, TLS: tlsutil.Listener(nil, cluster)}, b)
	srv.TLS = tlsutil.Listener(nil, cluster)
	srv.StartTLS()
	t.Cleanup(srv.Close)

	client := func(cert *tls.Certificate) *http.Client {
		cfg := &tls.Config{RootCAs: ca.Pool, ServerName: tlsutil.ClusterServerName}
		if cert != nil { // sent whatever CAs the server names
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		// httptest shows its own certificate when Certificates is empty:
		// accept it, the point here is the client certificate.
		cfg.InsecureSkipVerify = true // #nosec G402 -- test server certificate
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	get := func(c *http.Client, key string) int {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/cluster", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	voter := ca.Node(t, "n2")
	ingestCert := ca.Issue(t, tlstest.Opts{CommonName: "i1", Client: true})
	rogue := tlstest.NewCA(t, "rogue").Node(t, "n3")
	for _, tc := range []struct {
		name string
		c    *http.Client
		key  string
		want int
	}{
		{"cluster key, no certificate", client(nil), testClusterKey, http.StatusUnauthorized},
		{"ingest key, no certificate", client(nil), testIngestKey, http.StatusUnauthorized},
		{"cluster key, voter certificate", client(&voter.Cert), testClusterKey, http.StatusOK},
		{"ingest key, ingest certificate", client(&ingestCert.Cert), testIngestKey, http.StatusOK},
		{"admin token, no certificate", client(nil), adminToken, http.StatusOK},
	} {
		if got := get(tc.c, tc.key); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	// A certificate of another CA fails the handshake (VerifyClientCertIfGiven).
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+testClusterKey)
	if resp, err := client(&rogue.Cert).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("certificate of another CA: %d, want a TLS error", resp.StatusCode)
	}
}
