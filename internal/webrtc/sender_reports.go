package webrtc

import (
	"sync"
	"time"

	"github.com/pion/rtcp"

	"github.com/sluicemedia/sluice/internal/av"
)

// RTCP sender reports of a WHEP session (RFC 3550 §6.4.1). A report pairs
// an NTP wall-clock time with "the same time" in a track's RTP clock; a
// viewer lines its tracks up by these pairs (§7.2, lip sync), so what
// matters is that both tracks use one mapping of stream time to the wall
// clock, and that it does not wobble with the server's load.
//
// pion's report interceptor maps the RTP time of the last packet sent to
// the instant it was sent, per track. That puts a track sent late — the
// Opus that ffmpeg derives from an AAC stream enters the hub a few hundred
// milliseconds after the video sampled with it; any packet sent late by a
// loaded server — off by that lateness, and the viewer's lip sync with it.
// Here the mapping is one for the whole session: stream time t was live at
// zero + t, where zero is the earliest arrival − DTS of the packets sent
// in the last few seconds (the hub stamps each packet's arrival). The
// minimum keeps the packets that arrived on time, so lateness of a track
// or of the machine drops out; the window lets the mapping follow a
// publisher's clock drift or a republish gap after a few seconds.

// reportInterval is how often a session sends sender reports (as pion's
// interceptor did: once a second per track).
const reportInterval = time.Second

// liveBucket and liveBuckets make the window of liveClock: the minimum of
// the last liveBuckets buckets of liveBucket each (3 to 4 s).
const (
	liveBucket  = time.Second
	liveBuckets = 4
)

// liveClock estimates when stream time 0 was live on the wall clock.
type liveClock struct {
	zeros    [liveBuckets]time.Time // earliest arrival − DTS per bucket
	ok       [liveBuckets]bool
	cur      int
	curStart time.Time
}

// observe records that a packet of DTS dts entered the server at arrival;
// now is when it is sent.
func (c *liveClock) observe(now, arrival time.Time, dts time.Duration) {
	switch {
	case c.curStart.IsZero() || now.Sub(c.curStart) >= liveBuckets*liveBucket:
		c.ok = [liveBuckets]bool{} // nothing sent for a whole window
		c.curStart = now
	default:
		for now.Sub(c.curStart) >= liveBucket {
			c.cur = (c.cur + 1) % liveBuckets
			c.ok[c.cur] = false
			c.curStart = c.curStart.Add(liveBucket)
		}
	}
	zero := arrival.Add(-dts)
	if !c.ok[c.cur] || zero.Before(c.zeros[c.cur]) {
		c.zeros[c.cur], c.ok[c.cur] = zero, true
	}
}

// zero returns the estimate, or false before any packet was observed.
func (c *liveClock) zero() (time.Time, bool) {
	var z time.Time
	found := false
	for i, ok := range c.ok {
		if ok && (!found || c.zeros[i].Before(z)) {
			z, found = c.zeros[i], true
		}
	}
	return z, found
}

// reportTrack is what the reports of one sent track need.
type reportTrack struct {
	ssrc    uint32
	rate    int64  // RTP clock rate, Hz
	base    uint32 // RTP timestamp of stream time 0
	packets uint32 // RTP packets sent (RFC 3550 §6.4.1: wraps)
	octets  uint32 // payload octets sent (wraps)
}

// senderReports is shared by a session's writer (sent) and its report
// loop (reports).
type senderReports struct {
	mu     sync.Mutex
	tracks [2]*reportTrack // by syncVideo, syncAudio; nil when not sent
	live   liveClock
}

// setTrack registers track (syncVideo or syncAudio), sent with SSRC ssrc
// at RTP clock rate with timestamps base + stream time.
func (r *senderReports) setTrack(track int, ssrc uint32, rate int64, base uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tracks[track] = &reportTrack{ssrc: ssrc, rate: rate, base: base}
}

// sent records that p went out on track as packets RTP packets carrying
// octets payload octets.
func (r *senderReports) sent(track int, p *av.Packet, packets, octets int) {
	now := time.Now()
	arrival := p.Arrival
	if arrival.IsZero() {
		arrival = now
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tracks[track]
	if t == nil {
		return
	}
	t.packets += uint32(packets) // RFC 3550 §6.4.1: the counts wrap
	t.octets += uint32(octets)
	r.live.observe(now, arrival, p.DTS)
}

// reports returns the sender reports due at now: one per track that has
// sent a packet (RFC 3550 §6.4: a source that has not sent sends none),
// all from one mapping of stream time to the wall clock.
func (r *senderReports) reports(now time.Time) []*rtcp.SenderReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	zero, ok := r.live.zero()
	if !ok {
		return nil
	}
	streamNow := now.Sub(zero) // monotonic readings, like the arrivals
	var out []*rtcp.SenderReport
	for _, t := range r.tracks {
		if t == nil || t.packets == 0 {
			continue
		}
		out = append(out, &rtcp.SenderReport{
			SSRC:        t.ssrc,
			NTPTime:     ntpTimestamp(now),
			RTPTime:     t.base + rtpTime(streamNow, t.rate),
			PacketCount: t.packets,
			OctetCount:  t.octets,
		})
	}
	return out
}

// ntpTimestamp is t's wall-clock reading as a 64-bit NTP timestamp
// (RFC 3550 §4: seconds since 1900 in the high 32 bits, the fraction in
// the low 32).
func ntpTimestamp(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800 // 1900 → 1970, s
	ns := t.UnixNano()
	sec := uint64(ns/int64(time.Second)) + ntpEpochOffset
	frac := uint64(ns%int64(time.Second)) << 32 / uint64(time.Second)
	return sec<<32 | frac
}
