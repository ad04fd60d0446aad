package rtmp

// Timeline extends the 32-bit millisecond timestamps of RTMP messages,
// which wrap after 2^32 ms (49.7 days; sooner for an encoder whose clock
// starts near 2^32), to a continuous 64-bit timeline. Each timestamp is
// placed at the shortest signed distance (|d| < 2^31 ms, 24.8 days) from
// the previous one, so a wrap continues forward and small backward steps
// (audio and video interleaved with an offset, B-frame reordering,
// aggregate sub-tags) stay small. Use one Timeline per message stream: all
// of its chunk streams' timestamps share one clock. The zero value is
// ready; the first timestamp maps to itself.
type Timeline struct {
	last    uint32
	ext     int64
	started bool
}

// Extend returns ts on the 64-bit timeline.
func (t *Timeline) Extend(ts uint32) int64 {
	if !t.started {
		t.started, t.last, t.ext = true, ts, int64(ts)
		return t.ext
	}
	t.ext += int64(int32(ts - t.last)) // wrapping difference, read as signed
	t.last = ts
	return t.ext
}
