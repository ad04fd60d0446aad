package obs

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultRateInterval is a RateLimiter's interval when Interval is zero.
const DefaultRateInterval = 10 * time.Second

// maxRateKeys bounds the keys a RateLimiter tracks; beyond it, keys idle
// for a whole interval are forgotten.
const maxRateKeys = 4096

// RateLimiter allows one event per key per interval and counts the ones it
// suppresses, so a repeated per-packet or per-connection error becomes one
// log line per interval carrying the number of lines it stands for.
//
// The zero value is ready to use with DefaultRateInterval. It is safe for
// concurrent use.
type RateLimiter struct {
	// Interval is the least time between two allowed events of one key.
	// Default DefaultRateInterval (10 s).
	Interval time.Duration

	now func() time.Time // clock; time.Now when nil (tests replace it)

	mu         sync.Mutex
	keys       map[string]*rateEntry
	suppressed uint64 // total over all keys, ever
}

type rateEntry struct {
	last       time.Time // when the last event was allowed
	suppressed int       // events suppressed since last
}

// NewRateLimiter returns a RateLimiter allowing one event per key per
// interval.
func NewRateLimiter(interval time.Duration) *RateLimiter {
	return &RateLimiter{Interval: interval}
}

// Allow reports whether an event for key may be reported now. When it
// may, suppressed is the number of events for key suppressed since the
// previous allowed one; when it may not, the event is counted.
func (r *RateLimiter) Allow(key string) (ok bool, suppressed int) {
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	t := now()
	interval := r.Interval
	if interval <= 0 {
		interval = DefaultRateInterval
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = make(map[string]*rateEntry)
	}
	e, found := r.keys[key]
	if found && t.Sub(e.last) < interval {
		e.suppressed++
		r.suppressed++
		return false, 0
	}
	if !found {
		if len(r.keys) >= maxRateKeys {
			r.sweep(t, interval)
		}
		e = &rateEntry{}
		r.keys[key] = e
	}
	n := e.suppressed
	e.last, e.suppressed = t, 0
	return true, n
}

// sweep forgets keys whose interval has passed. Their suppressed counts
// stay in the total but are no longer reported per key. r.mu is held.
func (r *RateLimiter) sweep(now time.Time, interval time.Duration) {
	for k, e := range r.keys {
		if now.Sub(e.last) >= interval {
			delete(r.keys, k)
		}
	}
}

// Suppressed returns how many events were suppressed in total, over all
// keys, since r was created.
func (r *RateLimiter) Suppressed() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.suppressed
}

// Log logs msg with args at level on l if Allow(key) permits, adding
// "suppressed", N when N earlier events of key were suppressed. It reports
// whether the line was logged.
func (r *RateLimiter) Log(ctx context.Context, l *slog.Logger, level slog.Level, key, msg string, args ...any) bool {
	ok, n := r.Allow(key)
	if !ok {
		return false
	}
	if n > 0 {
		args = append(args[:len(args):len(args)], "suppressed", n)
	}
	l.Log(ctx, level, msg, args...)
	return true
}
