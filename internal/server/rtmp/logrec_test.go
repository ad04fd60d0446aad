package rtmpserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// logRec is a slog.Handler that keeps every record with its attributes
// (those of With included), for tests that check what was logged.
type logRec struct {
	mu    *sync.Mutex
	recs  *[]logLine
	attrs []slog.Attr
}

// logLine is one recorded log record.
type logLine struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
	// Keys lists the attribute keys in order, repeats included.
	Keys []string
}

func newLogRec() *logRec { return &logRec{mu: &sync.Mutex{}, recs: &[]logLine{}} }

func (h *logRec) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRec) Handle(_ context.Context, r slog.Record) error {
	l := logLine{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	add := func(a slog.Attr) {
		l.Keys = append(l.Keys, a.Key)
		l.Attrs[a.Key] = a.Value.String()
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	h.mu.Lock()
	*h.recs = append(*h.recs, l)
	h.mu.Unlock()
	return nil
}

func (h *logRec) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRec{mu: h.mu, recs: h.recs, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *logRec) WithGroup(string) slog.Handler { return h }

// lines returns the records whose message contains substr and whose
// attributes include every key=value pair of match.
func (h *logRec) lines(substr string, match map[string]string) []logLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logLine
next:
	for _, l := range *h.recs {
		if !strings.Contains(l.Msg, substr) {
			continue
		}
		for k, v := range match {
			if l.Attrs[k] != v {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

// dump renders every record, for failure messages.
func (h *logRec) dump() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, l := range *h.recs {
		fmt.Fprintf(&b, "%s %q", l.Level, l.Msg)
		for _, k := range l.Keys {
			fmt.Fprintf(&b, " %s=%q", k, l.Attrs[k])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// slogFor returns a logger writing to rec.
func slogFor(rec *logRec) *slog.Logger { return slog.New(rec) }
