package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// joinCluster asks the cluster at url to add this node as a voter,
// retrying until it answers 2xx or ctx ends. A node that is already a
// member is added again harmlessly (Raft treats it as a no-op). With
// mutual TLS, client presents this node's cluster certificate (the
// cluster refuses a join without one) and url is https.
func joinCluster(ctx context.Context, log *slog.Logger, client *http.Client, url, key, id, raftAddr, httpAddr, grpcAddr string) {
	body, _ := json.Marshal(map[string]string{"id": id, "raftAddr": raftAddr, "httpAddr": httpAddr, "grpcAddr": grpcAddr})
	endpoint := strings.TrimRight(url, "/") + "/v1/cluster/join"
	backoff := 200 * time.Millisecond
	for {
		err := postJoin(ctx, client, endpoint, key, body)
		if err == nil {
			log.Info("joined cluster", "via", url)
			return
		}
		log.Warn("join failed, retrying", "via", url, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

func postJoin(ctx context.Context, client *http.Client, endpoint, key string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var eb bytes.Buffer
		eb.ReadFrom(io.LimitReader(resp.Body, 4<<10)) // #nosec G104 -- the status is the error; the body only adds detail, a read error just shortens it
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(eb.String()))
	}
	return nil
}
