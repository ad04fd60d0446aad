package api

import (
	"sync"
	"time"
)

// rateTracker computes bitrate_in_kbps from BytesIn samples taken whenever
// the API reports a stream: a moving window, with no goroutine and nothing
// on the media path.
//
// For each stream it keeps samples at least minSampleGap apart covering the
// last window (plus the newest sample older than it, the window's base).
// The rate is (bytes now − bytes at the base) / elapsed. While no sample
// is at least minSampleGap old (the stream's first query, or queries in a
// quick burst), it is the average since the stream was created.
type rateTracker struct {
	window time.Duration

	mu        sync.Mutex
	streams   map[string]*rateState
	lastPrune time.Time
}

type rateState struct {
	created time.Time
	samples []rateSample // oldest first
	touched time.Time
}

type rateSample struct {
	at    time.Time
	bytes uint64
}

// minSampleGap is the shortest span a rate is measured over, and the
// spacing of samples (bounding them to window/minSampleGap+1 per stream).
const minSampleGap = time.Second

func newRateTracker(window time.Duration) *rateTracker {
	return &rateTracker{window: window, streams: map[string]*rateState{}}
}

// kbps records bytes (the BytesIn counter of the stream at path, created at
// created) at now and returns the input bitrate in kbit/s (1000 bit/s).
func (t *rateTracker) kbps(path string, created time.Time, bytes uint64, now time.Time) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.prune(now)
	st := t.streams[path]
	if st == nil || !st.created.Equal(created) ||
		(len(st.samples) > 0 && bytes < st.samples[len(st.samples)-1].bytes) {
		// New stream at this path (or a counter that went backwards).
		st = &rateState{created: created}
		t.streams[path] = st
	}
	st.touched = now

	// Keep the newest sample at or before the window start as the base.
	start := now.Add(-t.window)
	drop := 0
	for drop+1 < len(st.samples) && !st.samples[drop+1].at.After(start) {
		drop++
	}
	st.samples = append(st.samples[:0], st.samples[drop:]...)

	var rate float64
	if len(st.samples) > 0 && now.Sub(st.samples[0].at) >= minSampleGap {
		base := st.samples[0]
		rate = bitsPerMs(bytes-base.bytes, now.Sub(base.at))
	} else if age := now.Sub(created); age > 0 {
		rate = bitsPerMs(bytes, age)
	}
	if n := len(st.samples); n == 0 || now.Sub(st.samples[n-1].at) >= minSampleGap {
		st.samples = append(st.samples, rateSample{at: now, bytes: bytes})
	}
	return rate
}

// bitsPerMs is bytes over d in kbit/s (bits per millisecond), rounded to
// 0.1.
func bitsPerMs(bytes uint64, d time.Duration) float64 {
	kbps := float64(bytes) * 8 / (float64(d) / float64(time.Millisecond))
	return float64(int64(kbps*10+0.5)) / 10
}

// prune forgets streams not reported for two windows, at most once per
// window. Caller holds t.mu.
func (t *rateTracker) prune(now time.Time) {
	if now.Sub(t.lastPrune) < t.window {
		return
	}
	t.lastPrune = now
	for path, st := range t.streams {
		if now.Sub(st.touched) > 2*t.window {
			delete(t.streams, path)
		}
	}
}
