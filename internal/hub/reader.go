package hub

import (
	"context"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// Reader is one consumer's cursor into a Stream. Its methods must be called
// from a single goroutine.
type Reader struct {
	s     *Stream
	id    uint64 // unique in the process, for the API (clients.go)
	info  ClientInfo
	since time.Time
	// kicked is set by Stream.KickReader; guarded by s.mu.
	kicked bool

	cursor    uint64 // next sequence number to read
	needKey   bool   // drop packets until the next keyframe
	skipTimes []time.Time
	skipped   uint64
	// audioPrefs lists the audio tracks the reader can carry, best first
	// (PreferAudio, PreferAudioTracks); empty means the publisher's audio,
	// whatever its codec.
	audioPrefs []AudioPref
}

// Stream returns the stream being read.
func (r *Reader) Stream() *Stream { return r.s }

// Skips returns how many times this reader jumped ahead to a keyframe.
func (r *Reader) Skips() uint64 { return r.skipped }

// Read appends the next packets to dst (up to cap(dst)) and returns it,
// blocking until at least one is available. A reader lagging more than
// Options.MaxLag behind jumps to the newest keyframe; one that does so more
// than Options.MaxSkips times in a minute gets ErrLagging. After the stream
// ends and the reader has drained it, Read returns ErrEnded; once the reader
// is kicked (Stream.KickReader), Read returns ErrKicked at once.
func (r *Reader) Read(ctx context.Context, dst []*av.Packet) ([]*av.Packet, error) {
	if cap(dst) == 0 {
		dst = make([]*av.Packet, 0, 64)
	}
	s := r.s
	for {
		s.mu.RLock()
		if r.kicked {
			s.mu.RUnlock()
			return dst, ErrKicked
		}
		ring := s.ring
		switch {
		case r.cursor < ring.front:
			r.jump()
		case r.cursor < ring.head && s.haveKey && r.cursor < s.lastKeySeq &&
			s.behind(ring.at(r.cursor)) > s.hub.opts.MaxLag:
			r.jump()
		}
		if r.tooManySkips() {
			s.mu.RUnlock()
			s.drops.Add(1)
			return dst, ErrLagging
		}
		audio := r.audioChoice()
		for r.cursor < ring.head && len(dst) < cap(dst) {
			p := ring.at(r.cursor)
			r.cursor++
			if p.Kind() == av.KindAudio && !audio.passes(p.Track) {
				continue
			}
			if r.needKey {
				if !p.Key || (p.Kind() == av.KindAudio && (s.sawVideo || s.hasVideo)) {
					continue
				}
				r.needKey = false
			}
			dst = append(dst, p)
		}
		if len(dst) > 0 {
			s.mu.RUnlock()
			return dst, nil
		}
		if s.ended {
			s.mu.RUnlock()
			return dst, ErrEnded
		}
		wait := s.notify
		s.mu.RUnlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return dst, ctx.Err()
		}
	}
}

// jump moves the cursor to the newest keyframe, or to the head with needKey
// when no keyframe is retained. Caller holds s.mu (read).
func (r *Reader) jump() {
	s := r.s
	if s.haveKey && s.lastKeySeq >= s.ring.front {
		r.cursor = s.lastKeySeq
		r.needKey = false
	} else {
		r.cursor = s.ring.head
		r.needKey = true
		s.askKeyframe("a lagging reader waits for a keyframe")
	}
	r.skipped++
	s.skips.Add(1)
	now := time.Now()
	r.skipTimes = append(r.skipTimes, now)
	if n := len(r.skipTimes); n > s.hub.opts.MaxSkips+1 {
		r.skipTimes = append(r.skipTimes[:0], r.skipTimes[n-s.hub.opts.MaxSkips-1:]...)
	}
	if r.skipped <= 3 || r.skipped%100 == 0 {
		s.hub.opts.Logger.Warn("reader lagging, skipped to newest keyframe", "path", s.path,
			"proto", r.info.Protocol, "remote", r.info.Remote, "skips", r.skipped)
	}
}

// tooManySkips reports more than MaxSkips jumps within the last minute.
func (r *Reader) tooManySkips() bool {
	max := r.s.hub.opts.MaxSkips
	if len(r.skipTimes) <= max {
		return false
	}
	return time.Since(r.skipTimes[len(r.skipTimes)-max-1]) < time.Minute
}

// Close detaches the reader from the stream.
func (r *Reader) Close() {
	r.s.mu.Lock()
	delete(r.s.readers, r)
	r.s.mu.Unlock()
}
