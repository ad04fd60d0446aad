package hub

import (
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// The stream timeline. A publisher's timestamps are moved onto it by one
// offset for all of its tracks (Publisher.offset), so whatever A/V offset
// the publisher has (a hardware encoder's audio running ahead, an OBS sync
// offset) reaches viewers as it was sent. The timeline starts at 0 (the
// first packet of a stream), and a publisher that rejoins within the
// republish grace continues it.
//
// Jumps — a track's timestamp moving backwards by more than
// maxBackwardJump or forwards by more than maxForwardJump from that track's
// previous packet (forwards: and far from the other tracks' too) — are
// detected per track: comparing audio with video would see a jump on every
// packet of a publisher whose tracks are more than maxBackwardJump apart. A jump rebases the whole stream (the shared
// offset moves) so the jumping packet lands just after its track's previous
// packet, never on it: a repeated DTS would be a zero-length sample. The
// other tracks are expected to have jumped as well; one whose next packet
// shows it did not (its clock kept running) gets a correction of its own
// instead of rebasing the stream back, which would ping-pong the offset on
// every packet.

// Defaults for a track's frame step when it has not shown one yet.
const (
	// defaultStep is the DTS step assumed for a track before two of its
	// packets were seen.
	defaultStep = time.Millisecond
	// maxStep bounds the step a rebase keeps between a track's previous
	// packet and the rebased one.
	maxStep = time.Second
)

// trackClock is the timeline state of one track kind of a stream. Guarded
// by Stream.mu.
type trackClock struct {
	last  time.Duration // stream DTS of the track's newest packet
	step  time.Duration // the track's last positive DTS step
	have  bool          // last is set
	fresh bool          // no packet from the current publisher yet
	// adj is this track's own correction on top of the publisher's
	// offset (non-zero only after its clock did not follow a jump of the
	// others).
	adj time.Duration
	// pending is set when another track rebased the stream since this
	// track's last packet.
	pending bool
}

// nextDTS is where a rebased packet of this track lands: one step after
// its previous packet.
func (c *trackClock) nextDTS() time.Duration {
	step := c.step
	if step <= 0 {
		step = defaultStep
	}
	return c.last + min(step, maxStep)
}

// jumped reports whether dts, of track k, is a jump: backwards from the
// track's previous packet by more than maxBackwardJump (never passed on:
// the track would run backwards), or forwards by more than maxForwardJump
// and far from every other track too (a sparse track — video paused while
// audio runs on — catches up with the others rather than jumps). The first
// packet of a publisher must land strictly after the previous publisher's
// last packet of the track. A publisher that keeps its timestamps
// (KeepTimestamps: already on a stream timeline) may leave a gap forwards
// of any length. Caller holds s.mu.
func (s *Stream) jumped(p *Publisher, k int, dts time.Duration) bool {
	c := &s.clocks[k]
	switch {
	case !c.have:
		return false
	case c.fresh && dts <= c.last, dts < c.last-maxBackwardJump:
		return true
	case dts <= c.last+maxForwardJump, p.keepTime:
		return false
	}
	for i := range s.clocks {
		if o := &s.clocks[i]; i != k && o.have && dts >= o.last-maxBackwardJump && dts <= o.last+maxForwardJump {
			return false
		}
	}
	return true
}

// advance records dts as the track's newest packet.
func (c *trackClock) advance(dts time.Duration) {
	if c.have && dts > c.last && dts-c.last <= maxStep {
		c.step = dts - c.last
	}
	if !c.have || dts > c.last {
		c.last = dts
	}
	c.have, c.fresh, c.pending = true, false, false
}

func kindIndex(k av.Kind) int {
	if k == av.KindVideo {
		return 0
	}
	return 1
}

// startPublisher sets the offset of publisher p from its first packet,
// whose DTS is first. Caller holds s.mu.
func (s *Stream) startPublisher(p *Publisher, first time.Duration) {
	p.started = true
	switch {
	case s.haveDTS && p.keepTime && first > s.lastDTS:
		// Already on the stream's timeline and after its end.
		p.offset = 0
	case s.haveDTS:
		// Continue the timeline of the previous publisher.
		p.offset = s.lastDTS + republishGap - first
	case p.keepTime:
		p.offset = 0
	default:
		p.offset = -first // the timeline starts at 0
	}
	for i := range s.clocks {
		c := &s.clocks[i]
		c.fresh, c.adj, c.pending = true, 0, false
	}
}

// retime moves pkt onto the stream timeline; it reports false for a packet
// that falls before the timeline's start and is dropped. Caller holds s.mu.
func (s *Stream) retime(p *Publisher, pkt *av.Packet) bool {
	if !p.started {
		s.startPublisher(p, pkt.DTS)
	}
	k := kindIndex(pkt.Kind())
	c := &s.clocks[k]
	dts := pkt.DTS + p.offset + c.adj
	switch {
	case s.jumped(p, k, dts):
		target := c.nextDTS()
		adjust := target - dts
		if c.pending {
			// The stream was just rebased for another track and this one
			// did not jump with it: correct this track alone.
			c.adj += adjust
		} else {
			s.rebase(p, k, adjust)
		}
		dts = target
		p.jumps++
		if p.jumps <= 3 || p.jumps%100 == 0 {
			s.hub.opts.Logger.Warn("publisher timestamp jump rebased", "path", s.path,
				"remote", p.info.Remote, "track", pkt.Kind().String(), "jump", -adjust, "count", p.jumps)
		}
	case !c.have && s.haveDTS && (dts < s.lastDTS-maxForwardJump || dts > s.lastDTS+maxForwardJump):
		// A track that starts far from the others' timeline (a clock of
		// its own): it alone is moved to the stream's newest packet.
		c.adj += s.lastDTS - dts
		s.hub.opts.Logger.Warn("publisher track starts off the stream timeline, rebased", "path", s.path,
			"remote", p.info.Remote, "track", pkt.Kind().String(), "jump", dts-s.lastDTS)
		dts = s.lastDTS
	case !c.have && dts < 0 && pkt.Kind() == av.KindAudio:
		// Audio stamped before the timeline's 0 (the stream started with
		// a video frame stamped later): it belongs before the start, to
		// video no viewer gets. Dropped, so the A/V offset stays exact.
		return false
	case !c.have && dts < 0:
		// Video stamped before the audio that started the stream: move
		// the whole stream later so nothing is negative (a gap in the
		// first audio packets rather than in the video).
		s.rebase(p, k, -dts)
		dts = 0
	}
	pkt.PTS += dts - pkt.DTS
	pkt.DTS = dts
	c.advance(dts)
	if !s.haveDTS || dts > s.lastDTS {
		s.lastDTS = dts
		s.haveDTS = true
	}
	return true
}

// behind returns how far (in media time) p is behind the newest packet of
// its track kind: with audio stamped ahead of video, comparing a video
// packet with the newest audio one would count the A/V offset as lag.
// Caller holds s.mu.
func (s *Stream) behind(p *av.Packet) time.Duration {
	if c := &s.clocks[kindIndex(p.Kind())]; c.have {
		return c.last - p.DTS
	}
	return s.lastDTS - p.DTS
}

// rebase moves publisher p's offset by adjust for a jump seen on track k;
// the other tracks that have packets are marked pending. Caller holds s.mu.
func (s *Stream) rebase(p *Publisher, k int, adjust time.Duration) {
	p.offset += adjust
	for i := range s.clocks {
		if i != k && s.clocks[i].have {
			s.clocks[i].pending = true
		}
	}
}
