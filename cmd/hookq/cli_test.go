package main

import (
	"flag"
	"io"
	"reflect"
	"testing"
)

func TestHoistGlobalsMovesLeadingGlobalFlagsToTheEnd(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"queue", "list"}, []string{"queue", "list"}},
		{[]string{"--url", "U", "queue", "get", "q"}, []string{"queue", "get", "q", "--url", "U"}},
		{[]string{"--json", "--token=T", "cluster", "status"}, []string{"cluster", "status", "--json", "--token=T"}},
		{[]string{"-url", "U", "--ca", "F", "send", "s"}, []string{"send", "s", "-url", "U", "--ca", "F"}},
		{[]string{"--version"}, []string{"--version"}},
		{[]string{"--url", "U"}, []string{"--url", "U"}},
	} {
		if got := hoistGlobals(append([]string(nil), tc.in...)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("hoistGlobals(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseCLITakesFlagsAnywhere(t *testing.T) {
	fs, g := newCLIFlags("x", "x", io.Discard, io.Discard)
	vis := fs.String("visibility", "", "")
	var scopes stringList
	fs.Var(&scopes, "scope", "")
	pos, err := parseCLI(fs, []string{"put", "--visibility", "30s", "orders", "--json", "--scope", "a,b", "--scope", "c", "extra"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pos, []string{"put", "orders", "extra"}) || *vis != "30s" || !g.json || !reflect.DeepEqual([]string(scopes), []string{"a", "b", "c"}) {
		t.Fatalf("pos %q vis %q json %v scopes %q", pos, *vis, g.json, scopes)
	}
	if _, err := parseCLI(fs, []string{"--nope"}); exitCode(err) != 2 {
		t.Fatalf("unknown flag: %v (exit %d), want exit 2", err, exitCode(err))
	}
	if _, err := parseCLI(fs, []string{"-h"}); err != flag.ErrHelp || exitCode(err) != 0 {
		t.Fatalf("-h: %v", err)
	}
}
