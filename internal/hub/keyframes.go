package hub

import (
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// Keyframes. The GOP cache (the newest keyframe and what follows) lets a new
// reader start at once, but a publisher that sends one keyframe per session
// (a WebRTC encoder nobody asks) would hand a reader joining a minute later
// a minute of backlog. So a keyframe older than Options.MaxGOPDuration is no
// longer served: new readers wait for the next one, and publishers that make
// keyframes on demand (WHIP: RTCP PLI) are asked for it — whenever a reader
// has to wait for a keyframe, and on the segment grid
// (Options.KeyframeInterval after the last keyframe) while none comes.

// keyframeRetry is how often (in media time) a keyframe request is repeated
// while the publisher does not send one.
const keyframeRetry = time.Second

// KeyframeRequests returns a channel that receives a reason each time the
// hub wants a keyframe from the publisher (a reader waits for one, or the
// stream has had none for Options.KeyframeInterval). Requests that come
// while one is pending are merged. Publishers that cannot make keyframes on
// demand ignore it.
func (p *Publisher) KeyframeRequests() <-chan string { return p.keyReq }

// RequestKeyframe asks the stream's publisher for a keyframe (see
// Publisher.KeyframeRequests), e.g. for a consumer that starts and cannot
// use the cached GOP. It does nothing while the stream has no publisher.
func (s *Stream) RequestKeyframe(reason string) {
	s.mu.RLock()
	s.askKeyframe(reason)
	s.mu.RUnlock()
}

// askKeyframe sends a keyframe request to the publisher without blocking.
// Caller holds s.mu (read or write).
func (s *Stream) askKeyframe(reason string) {
	p := s.publisher
	if p == nil || p.closed {
		return
	}
	select {
	case p.keyReq <- reason:
		s.keyRequests.Add(1)
	default: // one is pending already
	}
}

// noteKeyframes tracks the video keyframes of pkt, just written, and asks
// the publisher for one on the segment grid. Caller holds s.mu.
func (s *Stream) noteKeyframes(pkt *av.Packet) {
	if pkt.Kind() != av.KindVideo {
		return
	}
	if pkt.Key {
		s.keyDTS, s.haveKeyDTS, s.askedKey = pkt.DTS, true, false
		return
	}
	iv := s.hub.opts.KeyframeInterval
	if iv <= 0 || !s.haveKeyDTS {
		return // before the first keyframe the publisher asks by itself
	}
	// Asked once iv has passed (not earlier: a publisher whose keyframes
	// come on time is never asked), the keyframe comes a frame or a round
	// trip after iv, and a segment cut at the first keyframe of at least
	// iv never waits for a second one.
	if pkt.DTS-s.keyDTS < iv || (s.askedKey && pkt.DTS-s.askedAt < keyframeRetry) {
		return
	}
	s.askedKey, s.askedAt = true, pkt.DTS
	s.askKeyframe("no keyframe for " + iv.String())
}

// gopExpired reports whether the cached GOP started longer than
// MaxGOPDuration ago (in the keyframe track's media time). Caller holds
// s.mu.
func (s *Stream) gopExpired() bool {
	if !s.haveKey {
		return false
	}
	if s.lastKeySeq < s.ring.front {
		return true // the full ring dropped it
	}
	key := s.ring.at(s.lastKeySeq)
	newest := s.clocks[kindIndex(key.Kind())].last
	return newest-key.DTS > s.hub.opts.MaxGOPDuration
}
