// Package netutil holds small socket and HTTP helpers shared by the servers
// (which must not import each other).
package netutil

import "time"

// deadlineSetter is what net.Conn offers for write deadlines.
type deadlineSetter interface {
	SetWriteDeadline(time.Time) error
}

// WriteDeadline keeps a connection's write deadline between timeout/2 and
// timeout ahead of now while renewing it at most once per timeout/2, not
// once per write: with hundreds of viewers each writing dozens of batches a
// second, re-arming the runtime timer on every write shows up in profiles.
// A write that blocks is therefore failed after at least timeout/2 and at
// most timeout. Not safe for concurrent use; one per connection writer.
type WriteDeadline struct {
	renewAt time.Time
}

// Extend renews c's write deadline if due.
func (d *WriteDeadline) Extend(c deadlineSetter, timeout time.Duration) error {
	return d.ExtendAt(c, time.Now(), timeout)
}

// ExtendAt is Extend with the current time given, for a writer serving
// many connections in one pass.
func (d *WriteDeadline) ExtendAt(c deadlineSetter, now time.Time, timeout time.Duration) error {
	if now.Before(d.renewAt) {
		return nil
	}
	d.renewAt = now.Add(timeout / 2)
	return c.SetWriteDeadline(now.Add(timeout))
}
