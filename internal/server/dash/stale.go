package dashserver

import (
	"encoding/binary"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// A republish that moved the wall clock starts a new Period (buildMPD), but
// a client playing the old one has already asked, from its timeline's open
// end (openTimeline), for the segment after the old publisher's last. That
// segment is the new publisher's first, and it belongs to the new Period:
// a 404 there made dash.js retry the address 15 times and then report a
// fatal download error. So the server answers that one request with the
// new Period's first segment, its decode times moved by the difference of
// the two clocks (clockShift): through the old Period's mapping it lands
// where the new Period puts it, the outage left as a gap in the buffer
// (which players jump), and the client, once its MPD is refreshed,
// continues in the new Period — fetching that segment again places the
// same samples at the same time.

// clockShift is how much later seg's wall clock runs than from's, for seg
// the first segment of a new clock epoch after from (0 otherwise): the
// shift that puts seg on from's Period timeline at its real place.
func clockShift(from, seg *packager.Segment) (time.Duration, bool) {
	if seg.Init != from.Init || seg.Epoch == from.Epoch || seg.Epoch != seg.Start {
		return 0, false
	}
	d := seg.ProgramDateTime.Sub(from.ProgramDateTime) - (seg.Start - from.Start)
	if d <= 0 {
		return 0, false
	}
	return d, true
}

// trackTimescale is the timescale of track id of in (the packager's:
// video 90 kHz, audio its sampling rate).
func trackTimescale(in *packager.Init, id int) uint32 {
	for _, t := range in.Tracks {
		if (id == trackVideo) != (t.Kind() == av.KindVideo) {
			continue
		}
		switch {
		case t.Kind() == av.KindVideo:
			return 90000
		case t.Codec == av.CodecOpus:
			return av.OpusSampleRate
		case t.SampleRate > 0:
			return uint32(t.SampleRate)
		}
		return 48000
	}
	return 0
}

// shiftedTrackSegment is trackSegment with every fragment's
// baseMediaDecodeTime (ISO/IEC 14496-12 §8.8.12 tfdt) advanced by delta
// ticks; the headers are copies, the sample payloads shared.
func shiftedTrackSegment(parts []*packager.Part, id int, delta uint64) [][]byte {
	bufs := trackSegment(parts, id)
	for i := 0; i < len(bufs); i += 2 {
		h := append([]byte(nil), bufs[i]...)
		shiftTFDT(h, delta)
		bufs[i] = h
	}
	return bufs
}

// shiftTFDT advances the tfdt of every traf of the moof at the start of b
// by delta, in place.
func shiftTFDT(b []byte, delta uint64) {
	walk := func(b []byte, fn func(typ string, body []byte)) {
		for len(b) >= 8 {
			size := int(binary.BigEndian.Uint32(b))
			if size < 8 || size > len(b) {
				return
			}
			fn(string(b[4:8]), b[8:size])
			b = b[size:]
		}
	}
	walk(b, func(typ string, moof []byte) {
		if typ != "moof" {
			return
		}
		walk(moof, func(typ string, traf []byte) {
			if typ != "traf" {
				return
			}
			walk(traf, func(typ string, tfdt []byte) {
				if typ != "tfdt" || len(tfdt) < 4 {
					return
				}
				if tfdt[0] == 1 && len(tfdt) >= 12 {
					binary.BigEndian.PutUint64(tfdt[4:], binary.BigEndian.Uint64(tfdt[4:])+delta)
				} else if len(tfdt) >= 8 {
					binary.BigEndian.PutUint32(tfdt[4:], binary.BigEndian.Uint32(tfdt[4:])+uint32(delta))
				}
			})
		})
	})
}
