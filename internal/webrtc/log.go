package webrtc

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLogs adapts pion's scoped loggers to slog. Pion is chatty and its
// warnings include routine teardown noise, so its warnings and errors are
// logged at debug level and everything below is dropped: pion stays quiet
// unless log.level is debug.
type pionLogs struct{ log *slog.Logger }

var _ logging.LoggerFactory = pionLogs{}

// NewLogger returns the logger for one pion component.
func (f pionLogs) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("component", "pion", "scope", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) logf(format string, args ...any) {
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.log.Debug(fmt.Sprintf(format, args...))
}

func (pionLogger) Trace(string)                    {}
func (pionLogger) Tracef(string, ...any)           {}
func (pionLogger) Debug(string)                    {}
func (pionLogger) Debugf(string, ...any)           {}
func (pionLogger) Info(string)                     {}
func (pionLogger) Infof(string, ...any)            {}
func (l pionLogger) Warn(msg string)               { l.logf("%s", msg) }
func (l pionLogger) Warnf(format string, a ...any) { l.logf(format, a...) }
func (l pionLogger) Error(msg string)              { l.logf("%s", msg) }
func (l pionLogger) Errorf(format string, a ...any) {
	l.logf(format, a...)
}
