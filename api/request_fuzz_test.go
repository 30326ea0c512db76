package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hookq/hookq/api"
	"github.com/hookq/hookq/broker"
	"github.com/hookq/hookq/broker/brokertest"
	"github.com/hookq/hookq/ingest"
)

// fuzzNode is one real node shared by every exec of FuzzRequestToCommand
// in this process (a node per exec would spend the budget on elections).
var fuzzNode struct {
	once sync.Once
	b    *broker.Broker
	srv  *api.Server
}

// FuzzRequestToCommand drives arbitrary bytes through the HTTP layer into
// the command path: header names and values (the bytes HTTP allows and
// the ones it does not), path ids and names, query strings and JSON
// bodies, on the ingest, consumer and admin routes. Whatever arrives, the
// node answers with a status below 500 (or 503) and stays up: nothing that
// proto cannot encode, or that is past a bound, reaches the Raft log.
//
// make fuzz runs it for fewer execs than the pure targets (see Makefile):
// every accepted webhook is a real fsynced Raft commit.
func FuzzRequestToCommand(f *testing.F) {
	f.Add(uint8(0), "demo", "X-Note", []byte("caf\xe9"), []byte("hi"), "")
	f.Add(uint8(0), "demo", "Content-Type", []byte("text/plain; charset=\xe9"), []byte("hi"), "")
	f.Add(uint8(0), "demo", "X-Dedup", []byte("\xff\xfe"), []byte("x"), "")
	f.Add(uint8(0), "gh", "User-Agent", []byte("GitHub-Hookshot/\xff"), []byte(`{"zen":"x"}`), "")
	f.Add(uint8(1), "demo", "X-A", []byte("b"), []byte(""), "%FF")
	f.Add(uint8(2), "%FF", "X-A", []byte("b"), []byte(`{"ack":["\udcff"]}`), "")
	f.Add(uint8(3), "demo", "X-A", []byte("b"), []byte(`{"max":1000,"wait":"0s","visibility":"12h"}`), "")
	f.Add(uint8(4), "%FF", "X-A", []byte("b"), []byte(""), "")
	f.Add(uint8(5), "%FF", "X-A", []byte("b"), []byte(""), "")
	f.Add(uint8(6), "q\xff", "X-A", []byte("b"), []byte(`{"deadLetterQueue":"q\xff","retention":"99999999h"}`), "")
	f.Add(uint8(7), "s", "X-A", []byte("b"), []byte(`{"queues":["demo"],"verify":{"type":"none"},"dedup":{"key":"header:X-\xff","window":"600000h"}}`), "")
	f.Add(uint8(8), "demo", "X-A", []byte("b"), []byte(`{"reason":"`+strings.Repeat("r", 2000)+`"}`), "AAAA")
	f.Add(uint8(9), "demo", "X-A", []byte("b"), []byte(`{"messageIds":["\xff"]}`), "")
	f.Add(uint8(10), "t\xff", "X-A", []byte("b"), []byte(`{"name":"t\xff","scopes":["consume:\xff"]}`), "")
	fuzzNode.once.Do(func() {
		b := brokertest.MustOpen(f)
		ctx := context.Background()
		if _, err := b.PutQueue(ctx, "demo", broker.DefaultQueueConfig("demo")); err != nil {
			f.Fatal(err)
		}
		for _, s := range []struct {
			name string
			v    ingest.VerifyConfig
			d    ingest.DedupConfig
		}{
			{"demo", ingest.VerifyConfig{Type: "none"}, ingest.DedupConfig{Key: "header:X-Dedup"}},
			{"gh", ingest.VerifyConfig{Type: "none"}, ingest.DedupConfig{Key: "header:User-Agent"}},
		} {
			cfg := ingest.SourceConfig{Queues: []string{"demo"}, Verify: s.v, Dedup: s.d}
			if err := cfg.Normalize(); err != nil {
				f.Fatal(err)
			}
			if _, err := b.PutSource(ctx, s.name, cfg); err != nil {
				f.Fatal(err)
			}
		}
		fuzzNode.b = b
		fuzzNode.srv = api.New(api.Config{HTTPAddr: "127.0.0.1:1", AdminToken: adminToken}, b)
	})
	f.Fuzz(func(t *testing.T, route uint8, name, hname string, hval, body []byte, id string) {
		routes := []struct{ method, path string }{
			{"POST", "/hooks/{n}"},
			{"POST", "/v1/queues/{n}/deliveries/{id}/ack"},
			{"POST", "/v1/queues/{n}/settle"},
			{"POST", "/v1/queues/{n}/lease"},
			{"POST", "/v1/queues/{n}/purge"},
			{"DELETE", "/v1/tokens/{n}"},
			{"PUT", "/v1/queues/{n}"},
			{"PUT", "/v1/sources/{n}"},
			{"POST", "/v1/queues/{n}/deliveries/{id}/nack"},
			{"POST", "/v1/queues/{n}/redrive"},
			{"POST", "/v1/tokens"},
			{"DELETE", "/v1/cluster/nodes/{n}"},
			{"GET", "/v1/queues/{n}/messages/{id}"},
		}
		rt := routes[int(route)%len(routes)]
		path := strings.NewReplacer("{n}", url.PathEscape(name), "{id}", url.PathEscape(id)).Replace(rt.path)
		req := httptest.NewRequest(rt.method, "http://node"+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if hname != "" && !strings.ContainsAny(hname, "\r\n:") {
			req.Header[hname] = []string{string(hval)}
		}
		// Purges and deletes of the fixtures would starve later execs.
		if rt.method == "DELETE" || strings.HasSuffix(rt.path, "/purge") {
			if name == "demo" || name == "gh" {
				return
			}
		}
		if rt.path == "/v1/queues/{n}" && (name == "demo" || name == "gh") {
			return
		}
		rec := httptest.NewRecorder()
		fuzzNode.srv.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s (header %q=%q, body %q): %d %s", rt.method, path, hname, hval, body, rec.Code, rec.Body)
		}
		if !fuzzNode.b.Ready() {
			t.Fatalf("node not ready after %s %s", rt.method, path)
		}
	})
}
