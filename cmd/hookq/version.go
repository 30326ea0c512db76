package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/hookq/hookq/broker"
)

// version and commit are set at link time by `make build` and the image:
//
//	-ldflags "-X main.version=v1.2.3 -X main.commit=abc1234"
//
// Without them (go build, go install), they come from the build info:
// the module version (go install …@v1.2.3) and the VCS revision.
var (
	version = ""
	commit  = ""
)

// buildInfo is what `hookq version` prints.
type buildInfo struct {
	Version, Commit, Go, Platform string
	Modified                      bool
}

func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if len(b.Commit) > 12 {
		b.Commit = b.Commit[:12]
	}
	return b
}

// releaseString is the short form nodes report to each other and that
// GET /v1/cluster shows: "v1.2.3" or "dev+abc1234".
func releaseString() string {
	b := currentBuild()
	if b.Version == "dev" && b.Commit != "unknown" {
		return "dev+" + b.Commit
	}
	return b.Version
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: hookq version")
		return fmt.Errorf("version takes no arguments")
	}
	b := currentBuild()
	dirty := ""
	if b.Modified {
		dirty = " (modified)"
	}
	fmt.Fprintf(stdout, "hookq %s\ncommit %s%s\n%s %s\ndata format %d\n", b.Version, b.Commit, dirty, b.Go, b.Platform, dataFormatVersion)
	return nil
}

// dataFormatVersion is the data dir format this release reads and writes.
const dataFormatVersion = broker.DataFormat
