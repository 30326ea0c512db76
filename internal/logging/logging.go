// Package logging builds hookq's slog loggers (text or JSON, one level for
// everything) and adapts hashicorp/raft's hclog output into them: Raft's
// lines go out at the node's level, routine network trouble with a peer
// (a peer restarting, a closed connection at shutdown) is a warning, not
// an error, and repeats of one line are rate-limited.
//
// It never logs secrets or bodies itself; callers choose the attributes.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Formats of New.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// AuditKey is the attribute that marks an audit line (audit=true).
const AuditKey = "audit"

// ParseLevel reads debug|info|warn|error (as slog.Level.UnmarshalText).
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// New returns a logger writing format ("text" or "json") lines of level
// and above to w.
func New(format, level string, w io.Writer) (*slog.Logger, error) {
	l, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "", FormatText:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}
