// Package importrules holds one test: the import rules of
// docs/ARCHITECTURE.md §1.1, checked against what the packages of this
// module actually import (`go list -json`, non-test files).
package importrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/hookq/hookq"

// arrow is a forbidden import: no package matching from may import a
// package matching to. A pattern is a package path relative to the module
// ("broker"), a subtree ("api/..."), "*" for every package of the module,
// or "std:<path>" for a standard-library package. except lists packages
// of ours that to="*" still allows.
type arrow struct {
	from, to string
	except   []string
	why      string
}

var rules = []arrow{
	{from: "api/...", to: "storage/...", why: "api speaks broker's vocabulary, never storage's"},
	{from: "api/...", to: "proto/raftcmd", why: "the Raft commands are private to broker, raftfsm and storage"},
	{from: "api/...", to: "raftfsm", why: "api talks to a node through broker"},
	{from: "storage", to: "*", except: []string{"proto/raftcmd"}, why: "storage is the bottom layer: Pebble and the records"},
	{from: "raftfsm", to: "*", except: []string{"storage", "proto/raftcmd"}, why: "the state machine sees only storage and the commands"},
	{from: "proto/raftcmd", to: "*", why: "generated code"},
	{from: "ingest", to: "*", why: "ingest is the standard library only"},
	{from: "internal/tlsutil", to: "*", why: "TLS plumbing, a leaf"},
	{from: "examples/...", to: "*", except: []string{"api/client", "proto/hookq/v1"}, why: "examples are standalone consumers (of the public Go client and gRPC API at most)"},
	{from: "broker", to: "std:net/http", why: "broker runs a node; HTTP belongs to api (and cluster's seed discovery)"},
	{from: "broker", to: "cluster/...", why: "cluster builds on broker; broker reaches it only through the interfaces it declares"},
	{from: "broker", to: "api/...", why: "no arrow runs back up"},
	{from: "cluster/...", to: "api/...", why: "node-to-node work never goes through the public API package"},
	{from: "cluster/...", to: "storage/...", why: "cluster reads the node's state through broker"},
	{from: "cluster/...", to: "raftfsm", why: "cluster reads the node's state through broker"},
	{from: "bench/...", to: "api/...", why: "bench is a client of the public HTTP API only"},
	{from: "bench/...", to: "broker/...", why: "bench is a client of the public HTTP API only"},
	{from: "bench/...", to: "storage/...", why: "bench is a client of the public HTTP API only"},
	{from: "bench/...", to: "raftfsm", why: "bench is a client of the public HTTP API only"},
	{from: "internal/backupfile", to: "*", why: "the backup file format, a leaf"},
	{from: "internal/logging", to: "*", why: "loggers and the hclog adapter, a leaf"},
	{from: "internal/apicode", to: "*", why: "the public error codes and their statuses, a leaf"},
	{from: "api/client", to: "*", except: []string{"internal/apicode", "proto/hookq/v1"}, why: "the Go client users build into their programs: the public protocol only, never the node (broker, Raft, Pebble)"},
	{from: "*", to: "cmd/...", why: "nothing imports the command"},
}

// onlyFrom are packages that only the listed importers may import.
var onlyFrom = []struct {
	pkg       string
	importers []string
	why       string
}{
	{pkg: "api", importers: []string{"cmd/hookq", "api/apitest"}, why: "api is wired in by the command (and the test node of api/apitest) only"},
	{pkg: "api/apitest", importers: nil, why: "test helpers are imported by tests only"},
	{pkg: "ingest/ingesttest", importers: nil, why: "test helpers are imported by tests only"},
	{pkg: "broker/brokertest", importers: []string{"api/apitest"}, why: "test helpers are imported by tests only"},
	{pkg: "storage/storagetest", importers: []string{"broker/brokertest"}, why: "test helpers are imported by tests only"},
	{pkg: "internal/tlsutil/tlstest", importers: []string{"broker/brokertest"}, why: "test helpers are imported by tests only"},
}

// knownViolations are arrows the code still has, as "from -> to". Every
// entry is a TODO of issue 10; an entry that no longer occurs fails the
// test, so the list only shrinks.
var knownViolations = map[string]string{}

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Standard", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 8 {
		t.Fatalf("go list found %d packages of %s; run from inside the module", len(pkgs), module)
	}
	return pkgs
}

// rel is path relative to the module, and whether it is ours.
func rel(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

// matches reports whether an import path matches a pattern of arrow.
func matches(pattern, path string) bool {
	if std, ok := strings.CutPrefix(pattern, "std:"); ok {
		return path == std
	}
	r, ours := rel(path)
	if !ours {
		return false
	}
	if pattern == "*" {
		return true
	}
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return r == dir || strings.HasPrefix(r, dir+"/")
	}
	return r == pattern
}

func violations(pkgs []pkg) map[string]string {
	found := map[string]string{}
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			for _, a := range rules {
				if !matches(a.from, p.ImportPath) || !matches(a.to, imp) {
					continue
				}
				if r, _ := rel(imp); contains(a.except, r) || imp == p.ImportPath {
					continue
				}
				found[arrowName(p.ImportPath, imp)] = a.why
			}
			for _, o := range onlyFrom {
				from, _ := rel(p.ImportPath)
				if to, ours := rel(imp); ours && to == o.pkg && !contains(o.importers, from) {
					found[arrowName(p.ImportPath, imp)] = o.why
				}
			}
		}
	}
	return found
}

func arrowName(from, to string) string {
	f, _ := rel(from)
	if r, ours := rel(to); ours {
		to = r
	}
	return f + " -> " + to
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestImportRules(t *testing.T) {
	found := violations(listPackages(t))
	var names []string
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, known := knownViolations[n]; known {
			continue
		}
		t.Errorf("forbidden import %s: %s", n, found[n])
	}
	for n, todo := range knownViolations {
		if _, still := found[n]; !still {
			t.Errorf("known violation %s is gone: remove it from knownViolations (%s)", n, todo)
		}
	}
}

// TestRulesMatch keeps the matcher honest on the patterns the rules use.
func TestRulesMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"api/...", module + "/api", true},
		{"api/...", module + "/api/v2", true},
		{"api/...", module + "/apix", false},
		{"storage", module + "/storage/storagetest", false},
		{"*", module + "/ingest", true},
		{"*", "net/http", false},
		{"std:net/http", "net/http", true},
		{"std:net/http", "net/http/httptest", false},
		{"cmd/...", module + "/cmd/hookq", true},
	} {
		if got := matches(c.pattern, c.path); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}
