// Package obs is Sluice's observability plumbing: slog logger set-up and
// rate-limited reporting of repeated events.
package obs

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Log formats accepted by NewLogger.
const (
	// FormatText is slog's key=value text format.
	FormatText = "text"
	// FormatJSON is one JSON object per line.
	FormatJSON = "json"
)

// ParseLevel parses a log level name: debug, info, warn or error (any
// case).
func ParseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("obs: unknown log level %q (want debug, info, warn or error)", truncate(level))
}

// NewLogger returns a logger writing to w at the given level (debug, info,
// warn or error) in the given format (text or json).
func NewLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case FormatText:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case FormatJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("obs: unknown log format %q (want text or json)", truncate(format))
}

// truncate shortens s for quoting in an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
