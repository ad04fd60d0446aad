package auth

import (
	"strings"
	"time"
)

// RecordSegment tells the on_record_segment hook (global or the path's)
// that a recording file of path was closed: file, its first sample's
// wall-clock start and its media duration. Like Ended it never blocks:
// the notification is queued (bounded; dropped with a log line when full)
// and sent in the background.
func (a *Authorizer) RecordSegment(path, file string, start time.Time, duration time.Duration) {
	if a.notifier == nil {
		return
	}
	hookURL := a.ruleFor(path).hooks.OnRecordSegment
	if hookURL == "" {
		return
	}
	app, name, _ := strings.Cut(path, "/")
	body := HookBody{Action: "record_segment", Path: path, App: app, Name: name, Protocol: "record",
		File: file, Start: start.UTC().Format(time.RFC3339Nano), Duration: duration.Seconds()}
	a.notifier.enqueue(notification{url: hookURL, timeout: a.ruleFor(path).hooks.Timeout.Duration, body: body})
}
