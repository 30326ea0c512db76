package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

type clusterView struct {
	Leader string `json:"leader"`
	Nodes  []struct {
		ID       string `json:"id"`
		Suffrage string `json:"suffrage"`
		Healthy  bool   `json:"healthy"`
	} `json:"nodes"`
}

func viewOf(t *testing.T, p *proc) clusterView {
	t.Helper()
	var v clusterView
	if err := json.Unmarshal(mustCall(t, http.StatusOK, "GET", p.url("/v1/cluster"), nil), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// waitView polls node p's /v1/cluster until ok accepts it.
func waitView(t *testing.T, p *proc, what string, ok func(clusterView) bool) clusterView {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v := viewOf(t, p)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: cluster view %+v", what, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// --join adds a fresh node as a voter over HTTP; it catches up and serves
// reads; transfer-leadership hands leadership to it; DELETE removes a node.
func TestJoinTransferAndRemoveOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	n1 := newProc(t, "n1")
	n1.start()
	n1.waitReady(30 * time.Second)
	setupQueue(t, n1, "orders")
	mustCall(t, http.StatusAccepted, "POST", n1.url("/hooks/orders"), `{"a":1}`)

	n2 := newProc(t, "n2", "--join", n1.url(""))
	n2.start()
	waitView(t, n1, "join", func(v clusterView) bool {
		voters := 0
		for _, n := range v.Nodes {
			if n.Suffrage == "voter" && n.Healthy {
				voters++
			}
		}
		return voters == 2
	})
	n2.waitReady(30 * time.Second)
	var q struct {
		Stats struct {
			Ready int `json:"ready"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(mustCall(t, http.StatusOK, "GET", n2.url("/v1/queues/orders"), nil), &q); err != nil || q.Stats.Ready != 1 {
		t.Fatalf("joined node's view of orders: %v %+v", err, q)
	}

	mustCall(t, http.StatusNoContent, "POST", n2.url("/v1/cluster/transfer-leadership"), nil)
	waitView(t, n1, "transfer", func(v clusterView) bool { return v.Leader == "n2" })

	mustCall(t, http.StatusNoContent, "DELETE", n2.url("/v1/cluster/nodes/n1"), nil)
	waitView(t, n2, "remove", func(v clusterView) bool { return len(v.Nodes) == 1 && v.Nodes[0].ID == "n2" })
	// The remaining single voter still takes writes.
	mustCall(t, http.StatusAccepted, "POST", n2.url("/hooks/orders"), `{"a":2}`)
	if code, out, _, err := call("DELETE", n2.url("/v1/cluster/nodes/nope"), nil); err != nil || code != http.StatusNotFound {
		t.Fatalf("removing an unknown node: %d %v %s", code, err, out)
	}
}
