package packager

import (
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// The wall-clock anchor maps media time onto real time: a segment starting
// at media time t began at anchor+t (EXT-X-PROGRAM-DATE-TIME, and through
// it the DASH availability times). Two things make a single anchor taken
// from one packet's arrival wrong:
//
//   - A republish: the hub continues the timeline with only republishGap
//     between publishers, so after an outage of d the media clock is d
//     behind the wall clock for the rest of the session. Players that aim
//     at a wall-clock latency (dash.js, Shaka, hls.js with PDT) chase one
//     they can never reach. So every discontinuity starts a new anchor
//     epoch; its segments carry the new mapping (RFC 8216bis §4.4.4.6:
//     the date after an EXT-X-DISCONTINUITY may jump), and DASH opens a
//     Period there (ISO/IEC 23009-1 §5.3.2: a Period's start is its own).
//   - A late packet: on a loaded box one keyframe arrived 0.4 s after its
//     neighbours would have put it, which made every latency measured
//     against the wall clock 0.4 s too short. Arrival jitter only ever
//     delays a packet, so the anchor is the smallest arrival−DTS of the
//     leading track over the epoch's first segment.
//
// An epoch whose anchor is within anchorTolerance of the previous one
// keeps the previous one (and its epoch start), so a quick republish or a
// packager restart re-reading the hub's cache does not split DASH Periods
// for nothing.

// anchorTolerance is how far a new epoch's anchor may be from the
// previous one and still be taken as the same clock.
const anchorTolerance = 100 * time.Millisecond

// anchorState is the packager's wall-clock mapping. Owned by the writing
// goroutine.
type anchorState struct {
	have   bool
	anchor time.Time     // wall time of media time 0 in this epoch
	start  time.Duration // media time the epoch began at
	// refining: the open segment is the epoch's first; its lead packets
	// still lower the anchor.
	refining bool
	// best is the smallest arrival−DTS seen in the epoch, own the
	// media time of the epoch's first segment.
	best time.Time
	own  time.Duration
	// prev and prevStart are the previous epoch's (valid unless origin).
	prev      time.Time
	prevStart time.Duration
	// newEpoch: the next segment begins an epoch (after a discontinuity).
	newEpoch bool
	// origin: the epoch is the session's first, whose anchor is the
	// session's origin (DASH availabilityStartTime).
	origin bool
}

// arrivalOf is the packet's arrival (now if unknown) minus its DTS: the
// wall time media time 0 would have had if this packet was not late.
func arrivalOf(pkt *av.Packet) time.Time {
	a := pkt.Arrival
	if a.IsZero() {
		a = time.Now()
	}
	return a.Add(-pkt.DTS)
}

// beginSegment is called as a segment starting with pkt opens. It returns
// the wall-clock anchor and the epoch start for it.
func (a *anchorState) beginSegment(pkt *av.Packet) (time.Time, time.Duration) {
	switch {
	case !a.have:
		a.have, a.origin = true, true
	case a.newEpoch:
		a.prev, a.prevStart, a.origin = a.anchor, a.start, false
	default:
		a.refining = false
		return a.anchor, a.start
	}
	a.best, a.own = arrivalOf(pkt), pkt.DTS
	a.refining, a.newEpoch = true, false
	a.settle()
	return a.anchor, a.start
}

// settle sets the anchor from best, keeping the previous epoch's clock
// when within anchorTolerance of it.
func (a *anchorState) settle() {
	a.anchor, a.start = a.best, a.own
	if !a.origin {
		if d := a.best.Sub(a.prev); d < anchorTolerance && d > -anchorTolerance {
			a.anchor, a.start = a.prev, a.prevStart
		}
	}
}

// observe refines the anchor with a lead-track packet of the open
// segment; it reports whether the anchor or the epoch start changed.
func (a *anchorState) observe(pkt *av.Packet) bool {
	if !a.refining {
		return false
	}
	c := arrivalOf(pkt)
	if !c.Before(a.best) {
		return false
	}
	old, oldStart := a.anchor, a.start
	a.best = c
	a.settle()
	return !a.anchor.Equal(old) || a.start != oldStart
}
