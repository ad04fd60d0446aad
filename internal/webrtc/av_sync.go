package webrtc

import (
	"time"

	"github.com/pion/rtcp"
)

// A/V alignment of a WHIP publisher. Each track's RTP clock starts where
// its first packet arrived (relative to the session's first packet), which
// is only as good as the arrival: an audio path buffered differently from
// video, or a loaded server reading one track late, puts the tracks off by
// that much. The publisher's RTCP sender reports (RFC 3550 §6.4.1) say
// which RTP timestamp of each track was sampled at which NTP wall-clock
// instant, on one clock for all tracks (§6.4.1, "NTP timestamp"): once both
// tracks have one, audio's start offset is corrected so that media sampled
// at the same instant gets the same stream time as video (§7.2: lip sync
// across streams). Video, which segments are cut on, is never moved.

// syncTolerance is how far audio may be from its sender-report position
// before it is moved: corrections smaller than this are left alone, so
// rounding in the reports cannot jitter the timeline.
const syncTolerance = 10 * time.Millisecond

// Track indexes of whipSession.clocks and .srs, and of a WHEP session's
// senderReports.
const (
	syncVideo = 0
	syncAudio = 1
)

// senderClock is the latest sender report of one track: RTP timestamp rtp
// was sampled at NTP time ntp.
type senderClock struct {
	ok  bool
	ntp time.Duration // since the NTP epoch
	rtp uint32
}

// ntpDuration converts a 64-bit NTP timestamp (RFC 5905 §6: 32-bit seconds,
// 32-bit fraction) to a duration since the NTP epoch.
func ntpDuration(ntp uint64) time.Duration {
	return time.Duration(ntp>>32)*time.Second + time.Duration((ntp&0xffffffff)*uint64(time.Second)>>32)
}

// at returns the stream time of RTP timestamp ts without advancing the
// clock (ts near the clock's last timestamp, as a report's is). The clock
// must have started.
func (c *rtpClock) at(ts uint32) time.Duration {
	ticks := c.ext + int64(int32(ts-c.last)) - c.first
	return c.offset + time.Duration(ticks/c.rate)*time.Second + time.Duration(ticks%c.rate)*time.Second/time.Duration(c.rate)
}

// onSenderReports records the sender reports among pkts, RTCP read from
// track (syncVideo or syncAudio) with SSRC ssrc.
func (s *whipSession) onSenderReports(track int, ssrc uint32, pkts []rtcp.Packet) {
	for _, p := range pkts {
		sr, ok := p.(*rtcp.SenderReport)
		if !ok || sr.SSRC != ssrc {
			continue
		}
		s.syncMu.Lock()
		s.srs[track] = senderClock{ok: true, ntp: ntpDuration(sr.NTPTime), rtp: sr.RTPTime}
		s.srDirty = true
		s.syncMu.Unlock()
	}
}

// trackPTS is clock.pts for track under the sync lock, after applying any
// correction new sender reports call for.
func (s *whipSession) trackPTS(track int, clock *rtpClock, ts uint32, arrival time.Time) time.Duration {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	s.clocks[track] = clock
	pts := clock.pts(ts, func() time.Duration { return s.startOffset(arrival) })
	if s.srDirty && s.align() && track == syncAudio {
		pts = clock.at(ts)
	}
	return pts
}

// align moves audio's clock to where the sender reports put it relative to
// video; it reports whether it moved it. Caller holds syncMu.
func (s *whipSession) align() bool {
	v, a := s.clocks[syncVideo], s.clocks[syncAudio]
	vr, ar := s.srs[syncVideo], s.srs[syncAudio]
	if v == nil || a == nil || !v.started || !a.started || !vr.ok || !ar.ok {
		return false
	}
	s.srDirty = false
	// Stream time = wall clock - skew, by video's report.
	skew := vr.ntp - v.at(vr.rtp)
	delta := (ar.ntp - skew) - a.at(ar.rtp)
	if delta > -syncTolerance && delta < syncTolerance {
		return false
	}
	a.offset += delta
	if s.syncMoves.Add(1) <= 3 {
		s.log.Info("whip audio aligned to video by sender reports", "moved", delta)
	}
	return true
}
