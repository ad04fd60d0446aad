package relay

import (
	"context"
	"time"
)

// Back-off defaults between attempts of one pull or push.
const (
	defaultMinBackoff = 500 * time.Millisecond
	defaultMaxBackoff = 10 * time.Second
)

// backoff doubles the wait after each failed attempt, from min up to max;
// an attempt that established (media flowed) starts over at min.
type backoff struct {
	min, max time.Duration
	next     time.Duration
}

// after returns the wait before the next attempt; connected tells whether
// the failed attempt had established.
func (b *backoff) after(connected bool) time.Duration {
	if connected || b.next == 0 {
		b.next = b.min
	}
	d := b.next
	if b.next *= 2; b.next > b.max {
		b.next = b.max
	}
	return d
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
