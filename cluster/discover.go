package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/internal/tlsutil"
)

// sourcesTimeout bounds one reload of the source configs from the leader.
const sourcesTimeout = 2 * time.Second

// seedCluster asks one seed, an HTTP(S) URL of a voter, for its view of
// the cluster (GET /v1/cluster, with the ingest key). Seeds are HTTP URLs
// in the user's configuration, and the view carries every node's gRPC
// address, which is all an ingest node needs to reach the leader; the
// view's shape is broker.ClusterInfo's JSON form, the one the API writes.
func seedCluster(ctx context.Context, client *http.Client, seed, key string) (broker.ClusterInfo, error) {
	var c broker.ClusterInfo
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(seed, "/")+"/v1/cluster", nil)
	if err != nil {
		return c, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("seed %s: %s", seed, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return c, fmt.Errorf("seed %s: %w", seed, err)
	}
	return c, nil
}

// peerHTTPClient is the client an ingest node uses for the HTTP calls it
// makes to voters (leader discovery): with a cluster identity it presents
// its certificate and verifies the voter's against the cluster CA.
func peerHTTPClient(cluster *tlsutil.Cluster) *http.Client {
	if cluster == nil {
		return &http.Client{Timeout: 2 * time.Second}
	}
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     cluster.Client(),
		TLSHandshakeTimeout: 2 * time.Second,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     time.Minute,
	}}
}
