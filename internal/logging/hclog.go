package logging

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// RepeatWindow is how long a repeated Raft line is held back: the first
// occurrence goes out, the same line again within the window is counted,
// and the next one after it carries "repeated" = the count held back.
const RepeatWindow = 10 * time.Second

// routine are Raft's ERROR lines that mean "a peer is not reachable right
// now" or "a connection closed": what a peer restarting, a partition or a
// graceful shutdown looks like. They are logged as warnings.
var routine = []string{
	"failed to heartbeat to",
	"failed to appendEntries to",
	"failed to pipeline appendEntries",
	"failed to start pipeline replication to",
	"failed to make requestVote RPC",
	"failed to accept connection",
	"failed to decode incoming command",
	"failed to flush response",
	"peer has newer term, stopping replication",
	"failed to send snapshot to",
	"failed to install snapshot",
}

// quiet are Raft's lines that are not a problem at all.
var quiet = []string{
	"nothing new to snapshot",
}

// limiter holds back repeats of one line within RepeatWindow. It is shared
// by every logger Named or With'ed from one HCLog.
type limiter struct {
	mu   sync.Mutex
	last map[string]*seen
	now  func() time.Time
}

type seen struct {
	at      time.Time
	dropped int
}

// allow reports whether the line key may go out now, and how many of its
// repeats were held back since the last one that did.
func (l *limiter) allow(key string) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s, ok := l.last[key]
	if !ok {
		if len(l.last) > 1024 { // bounded: forget everything rather than grow
			l.last = map[string]*seen{}
		}
		l.last[key] = &seen{at: now}
		return true, 0
	}
	if now.Sub(s.at) < RepeatWindow {
		s.dropped++
		return false, 0
	}
	n := s.dropped
	s.at, s.dropped = now, 0
	return true, n
}

// HCLog is an hclog.Logger that writes into a slog.Logger.
type HCLog struct {
	log   *slog.Logger
	name  string
	args  []any
	lim   *limiter
	level hclog.Level // hclog.NoLevel: follow the slog handler
}

var _ hclog.Logger = (*HCLog)(nil)

// NewHCLog adapts log for hashicorp libraries; name becomes the
// "component" attribute.
func NewHCLog(log *slog.Logger, name string) *HCLog {
	return &HCLog{log: log, name: name, lim: &limiter{last: map[string]*seen{}, now: time.Now}, level: hclog.NoLevel}
}

// slogLevel maps an hclog level to slog's, after demoting routine lines.
func (h *HCLog) slogLevel(level hclog.Level, msg string) slog.Level {
	for _, q := range quiet {
		if strings.Contains(msg, q) {
			return slog.LevelDebug
		}
	}
	switch level {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Info, hclog.NoLevel, hclog.DefaultLevel:
		return slog.LevelInfo
	case hclog.Warn:
		return slog.LevelWarn
	}
	for _, r := range routine {
		if strings.HasPrefix(msg, r) {
			return slog.LevelWarn
		}
	}
	return slog.LevelError
}

func (h *HCLog) enabled(l slog.Level) bool {
	if h.level == hclog.Off {
		return false
	}
	if h.level != hclog.NoLevel && l < slogOf(h.level) {
		return false
	}
	return h.log.Enabled(context.Background(), l)
}

func slogOf(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Log writes one line: routine errors as warnings, repeats held back.
func (h *HCLog) Log(level hclog.Level, msg string, args ...any) {
	l := h.slogLevel(level, msg)
	if !h.enabled(l) {
		return
	}
	attrs := make([]any, 0, len(h.args)+len(args)+4)
	if h.name != "" {
		attrs = append(attrs, "component", h.name)
	}
	attrs = append(attrs, h.args...)
	attrs = append(attrs, cleanArgs(args)...)
	if l >= slog.LevelWarn {
		key := h.name + "\x00" + msg + "\x00" + peerOf(args)
		ok, dropped := h.lim.allow(key)
		if !ok {
			return
		}
		if dropped > 0 {
			attrs = append(attrs, "repeated", dropped)
		}
	}
	h.log.Log(context.Background(), l, msg, attrs...)
}

// peerOf is the peer a line is about, so one peer's failures do not hide
// another's.
func peerOf(args []any) string {
	for i := 0; i+1 < len(args); i += 2 {
		if k, _ := args[i].(string); k == "peer" {
			return fmt.Sprint(args[i+1])
		}
	}
	return ""
}

// cleanArgs turns hclog's argument values into plain ones (errors as
// strings, hclog.Format rendered) and pairs an odd trailing value.
func cleanArgs(args []any) []any {
	out := make([]any, 0, len(args)+1)
	for _, a := range args {
		switch v := a.(type) {
		case error:
			out = append(out, v.Error())
		case hclog.Format:
			out = append(out, fmt.Sprintf(fmt.Sprint(v[0]), v[1:]...))
		case string, bool, int, int64, uint64, uint32, int32, float64, time.Duration, time.Time:
			out = append(out, v)
		case fmt.Stringer:
			out = append(out, v.String())
		default:
			// Structs and pointers (Raft passes itself) as text, as the
			// text format would show them, not as JSON objects.
			out = append(out, fmt.Sprint(v))
		}
	}
	if len(out)%2 == 1 {
		out = append([]any{"extra"}, out...)
	}
	return out
}

// Trace logs at trace (slog debug).
func (h *HCLog) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }

// Debug logs at debug.
func (h *HCLog) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }

// Info logs at info.
func (h *HCLog) Info(msg string, args ...any) { h.Log(hclog.Info, msg, args...) }

// Warn logs at warn.
func (h *HCLog) Warn(msg string, args ...any) { h.Log(hclog.Warn, msg, args...) }

// Error logs at error (routine lines at warn).
func (h *HCLog) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

// IsTrace reports whether trace lines go out.
func (h *HCLog) IsTrace() bool { return h.enabled(slog.LevelDebug) }

// IsDebug reports whether debug lines go out.
func (h *HCLog) IsDebug() bool { return h.enabled(slog.LevelDebug) }

// IsInfo reports whether info lines go out.
func (h *HCLog) IsInfo() bool { return h.enabled(slog.LevelInfo) }

// IsWarn reports whether warnings go out.
func (h *HCLog) IsWarn() bool { return h.enabled(slog.LevelWarn) }

// IsError reports whether errors go out.
func (h *HCLog) IsError() bool { return h.enabled(slog.LevelError) }

// ImpliedArgs are the arguments added by With.
func (h *HCLog) ImpliedArgs() []any { return h.args }

// With returns a logger that adds args to every line.
func (h *HCLog) With(args ...any) hclog.Logger {
	c := *h
	c.args = append(append([]any(nil), h.args...), cleanArgs(args)...)
	return &c
}

// Name is the component name.
func (h *HCLog) Name() string { return h.name }

// Named returns a logger whose name is name appended to this one's.
func (h *HCLog) Named(name string) hclog.Logger {
	c := *h
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

// ResetNamed returns a logger named name.
func (h *HCLog) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

// SetLevel narrows this logger below the handler's level (NoLevel: follow
// the handler).
func (h *HCLog) SetLevel(level hclog.Level) { h.level = level }

// GetLevel is the effective level.
func (h *HCLog) GetLevel() hclog.Level {
	if h.level != hclog.NoLevel {
		return h.level
	}
	switch {
	case h.log.Enabled(context.Background(), slog.LevelDebug):
		return hclog.Debug
	case h.log.Enabled(context.Background(), slog.LevelInfo):
		return hclog.Info
	case h.log.Enabled(context.Background(), slog.LevelWarn):
		return hclog.Warn
	}
	return hclog.Error
}

// StandardLogger is a *log.Logger writing into this logger at info.
func (h *HCLog) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

// StandardWriter is an io.Writer whose lines go into this logger at info
// (or the level the options force).
func (h *HCLog) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return writerFunc(func(p []byte) (int, error) {
		h.Log(level, strings.TrimSpace(string(p)))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
