package dashserver

import (
	"strconv"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// mpdOptions shape an MPD; everything time-dependent is passed in, so the
// output is a pure function of the snapshot (golden tests).
type mpdOptions struct {
	// prefix is prepended to media file names, relative to the MPD's URL:
	// "NAME/dash/".
	prefix string
	// utcURL is the absolute URL of the time endpoint.
	utcURL string
	// now is the publishTime.
	now time.Time
	// minimumUpdatePeriod is how often clients should refetch the MPD.
	minimumUpdatePeriod time.Duration
	// frameRate returns the frame rate of the video of init ("" unknown).
	frameRate func(in *packager.Init) string
	// trackBytes returns the size of track id's fragments of seg (nil:
	// the muxed size).
	trackBytes func(seg *packager.Segment, id int) int
	// ast is the availabilityStartTime (set by buildMPD).
	ast time.Time
	// stored: the MPD of object storage (StoredMPD), whose media exist only
	// once complete: no open timeline end, no chunked availability, and
	// players held three segments behind the live edge.
	stored bool
}

// presentationTime is where seg starts on the MPD's timeline: its wall
// clock date relative to the availabilityStartTime ast. On the session's
// first clock that is its media time; after a republish that moved the
// clock (packager.Segment.Epoch), the media time plus the outage.
func presentationTime(seg *packager.Segment, ast time.Time) time.Duration {
	return seg.ProgramDateTime.Sub(ast)
}

// periodOrigin is the media time at which the Period of the run starting
// with seg (init in) begins: its init's first segment or its clock's
// epoch, whichever is later. Both stay put while the window slides, so
// the Period's start and presentationTimeOffset do too.
func periodOrigin(seg *packager.Segment, in *packager.Init) time.Duration {
	return max(in.Start, seg.Epoch)
}

// periodID names the Period of the run starting with seg: the init
// section's ID, and for a later clock of the same init its epoch (ms), so
// IDs stay unique and stable across MPD updates (§5.3.2.2).
func periodID(seg *packager.Segment, in *packager.Init) string {
	id := strconv.Itoa(in.ID)
	if k := periodKey(seg); k >= 0 {
		id += "-" + strconv.FormatInt(k, 10)
	}
	return id
}

// periodKey identifies the Period of seg within its init's: -1 for the
// init's first clock, else the clock epoch in ms (the eE of media names,
// names.go).
func periodKey(seg *packager.Segment) int64 {
	if seg.Init == nil || seg.Epoch <= seg.Init.Start {
		return -1
	}
	return seg.Epoch.Milliseconds()
}

// timescaleOf is the timescale the packager gives the leading track of
// init (video 90 kHz, else the audio sampling rate): SegmentTimeline
// times in it equal the segments' tfdt exactly.
func timescaleOf(in *packager.Init) uint32 {
	for _, t := range in.Tracks {
		if t.Kind() == av.KindVideo {
			return 90000
		}
	}
	for _, t := range in.Tracks {
		if t.Codec == av.CodecOpus {
			return av.OpusSampleRate
		}
		if t.SampleRate > 0 {
			return uint32(t.SampleRate)
		}
	}
	return 48000
}

// ticks converts a duration to a timescale without overflow.
func ticks(d time.Duration, timescale uint32) uint64 {
	if d < 0 {
		return 0
	}
	ts := uint64(timescale)
	return uint64(d/time.Second)*ts + uint64(d%time.Second)*ts/uint64(time.Second)
}

// expectedDuration is what the open segment is announced to last: its
// duration so far, or the previous segment's (segments follow the GOP),
// whichever is longer.
func expectedDuration(segs []packager.Segment, i int, target time.Duration) time.Duration {
	d := target
	if i > 0 && segs[i-1].Complete {
		d = segs[i-1].Duration
	}
	return max(d, segs[i].Duration)
}

// withoutGaps returns segs without gap segments (media time the stream
// skipped, packager.Segment.Gap): the SegmentTimeline just leaves that
// time out (§5.3.9.6: an S element's explicit t starts after a gap). The
// segment after a gap is marked discontinuous so the one before is not
// stretched over it. segs is not modified.
func withoutGaps(segs []packager.Segment) []packager.Segment {
	n := 0
	for i := range segs {
		if segs[i].Gap {
			n++
		}
	}
	if n == 0 {
		return segs
	}
	out := make([]packager.Segment, 0, len(segs)-n)
	after := false
	for _, s := range segs {
		if s.Gap {
			after = true
			continue
		}
		if after {
			s.Discontinuity, after = true, false
		}
		out = append(out, s)
	}
	return out
}

// buildMPD describes snap as a dynamic MPD (ISO/IEC 23009-1 §5.3.1,
// §5.4): one Period per init section, one AdaptationSet per component
// (video, audio) with one Representation, a SegmentTemplate addressing
// segments by $Time$ (§5.3.9.4.4; the server maps a time onto the
// packager's media sequence number) and a SegmentTimeline (§5.3.9.6)
// following the GOP-aligned segments. Timing and sample bytes are those of
// HLS fMP4 (see trackSegment). $Time$ rather than $Number$: ffmpeg's DASH
// demuxer confuses timeline indexes with segment numbers once
// startNumber is not 0, which a sliding window makes it.
//
// Period policy: a publisher reconnect that keeps the codec configuration
// keeps the Period — the hub continues the stream's timeline, so the
// SegmentTimeline just continues (a gap shows as an S with an explicit t);
// a reconnect with a new configuration gets a new init section and with
// it a new Period (§5.3.2), starting at that init's first segment.
//
// Low latency: the segment being written is listed with its expected
// duration, and availabilityTimeOffset (§5.3.9.5.3) with
// availabilityTimeComplete="false" lets clients request it once its first
// part exists; it is then delivered part by part (chunked transfer).
func buildMPD(snap *packager.Snapshot, o mpdOptions) *MPD {
	segs := withoutGaps(snap.Segments)
	target := snap.TargetDuration
	if target <= 0 {
		target = 2 * time.Second
	}
	m := &MPD{
		Xmlns:         mpdNamespace,
		ID:            snap.SessionID,
		Profiles:      profileLive,
		Type:          "dynamic",
		PublishTime:   xsDateTime(o.now),
		MinBufferTime: xsDuration(target),
	}
	if o.utcURL != "" {
		m.UTCTiming = []Descriptor{{SchemeIDURI: schemeHTTPISO, Value: o.utcURL}}
	}
	if len(segs) == 0 {
		m.AvailabilityStartTime = xsDateTime(o.now)
		return m
	}
	// Media time 0 on the session's first wall clock (ProgramDateTime =
	// anchor + Start). It must not move while the window slides or a
	// republish moves the clock: later clocks get Periods of their own.
	ast := snap.Origin
	if ast.IsZero() {
		ast = segs[0].ProgramDateTime.Add(-segs[0].Start)
	}
	m.AvailabilityStartTime = xsDateTime(ast)
	o.ast = ast

	var listed, maxDur time.Duration
	var end time.Duration
	for i := range segs {
		d := segs[i].Duration
		if !segs[i].Complete {
			d = expectedDuration(segs, i, target)
		} else {
			listed += d
		}
		maxDur = max(maxDur, d)
		end = presentationTime(&segs[i], ast) + d
	}
	if snap.Ended {
		m.MediaPresentationDuration = xsDuration(end)
	} else {
		m.MinimumUpdatePeriod = xsDuration(o.minimumUpdatePeriod)
		// What the timeline lists; with a DVR window the window itself
		// once the segments cover it (they overshoot by up to a segment),
		// less while the stream is younger or the byte budget cut it.
		tsbd := max(listed, target)
		if snap.DVRWindow > 0 {
			tsbd = min(tsbd, max(snap.DVRWindow, target))
		}
		m.TimeShiftBufferDepth = xsDuration(tsbd)
		// Clients that do not do low-latency play one segment behind the
		// live edge; low-latency ones aim at three parts.
		m.SuggestedPresentationDelay = xsDuration(target)
		lat := 3 * snap.PartTarget
		m.ServiceDescription = &ServiceDescription{ID: "0", Latency: &Latency{
			Target: max(lat, 500*time.Millisecond).Milliseconds(),
			Min:    snap.PartTarget.Milliseconds(),
			Max:    (3 * target).Milliseconds(),
		}}
		if o.stored {
			m.SuggestedPresentationDelay = xsDuration(3 * target)
			m.ServiceDescription = &ServiceDescription{ID: "0", Latency: &Latency{
				Target: (3 * target).Milliseconds(), Min: (2 * target).Milliseconds(), Max: (6 * target).Milliseconds(),
			}}
		}
	}
	m.MaxSegmentDuration = xsDuration(maxDur)

	// One Period per run of segments sharing an init section and a wall
	// clock.
	for i := 0; i < len(segs); {
		in := segs[i].Init
		j := i + 1
		for j < len(segs) && segs[j].Init == in && segs[j].Epoch == segs[i].Epoch {
			j++
		}
		if in != nil {
			m.Periods = append(m.Periods, buildPeriod(snap, segs[i:j], segs, i, in, o, target))
		}
		i = j
	}
	if !snap.Ended && !o.stored && len(m.Periods) > 0 {
		openTimeline(&m.Periods[len(m.Periods)-1])
	}
	return m
}

// openTimeline ends a live Period's timeline with an open run
// (<S d="…" r="-1"/>, ISO/IEC 23009-1 §5.3.9.6.2 Table 20: repeated until
// the next MPD update) after the segment being written, so the segment
// after it is addressable before an MPD lists it. Without it a client
// learns of segment N+1 only from an MPD fetched after N+1 began — up to
// minimumUpdatePeriod late — while at a sub-second latency target its
// buffer lasts a few hundred milliseconds: dash.js requested each segment
// 0.5–0.75 s after it began and ran dry at segment boundaries (4–5
// 'waiting' events a minute). With the open run it asks for N+1 at N+1's
// availability start (its first part) and the server holds the request
// until the segment exists (nextSegmentAt). The listed segments keep
// their own S elements: dash.js sizes an r="-1" run from its DVR window,
// which it derives from the timeline, so an open run that also covered
// the listed segments collapsed to one segment at start-up.
func openTimeline(p *Period) {
	seen := map[*SegmentTimeline]bool{}
	for _, as := range p.AdaptationSets {
		st := as.SegmentTemplate
		if st == nil || st.SegmentTimeline == nil || seen[st.SegmentTimeline] || len(st.SegmentTimeline.S) == 0 {
			continue
		}
		seen[st.SegmentTimeline] = true
		tl := st.SegmentTimeline
		tl.S = append(tl.S, S{D: tl.S[len(tl.S)-1].D, R: -1})
	}
}

// buildPeriod describes the segments run (all[first:] starts with it)
// sharing init in as one Period.
func buildPeriod(snap *packager.Snapshot, run, all []packager.Segment, first int, in *packager.Init,
	o mpdOptions, target time.Duration) Period {
	ts := timescaleOf(in)
	initID := strconv.Itoa(in.ID)
	origin := periodOrigin(&run[0], in)
	// The Period starts where its origin falls on the wall clock: for the
	// session's first clock that is the origin itself (ast + media time);
	// after a republish the outage later (§5.3.2.1: the Period's start
	// maps presentationTimeOffset onto the MPD timeline), so segment
	// availability follows the real clock again.
	start := presentationTime(&run[0], o.ast) - (run[0].Start - origin)
	st := &SegmentTemplate{
		Timescale:              ts,
		PresentationTimeOffset: ticks(origin, ts),
		SegmentTimeline:        &SegmentTimeline{},
	}
	if !snap.Ended && snap.PartTarget > 0 && !o.stored {
		f := false
		st.AvailabilityTimeOffset = xsSeconds(max(target-snap.PartTarget, 0))
		st.AvailabilityTimeComplete = &f
	}
	var next uint64 // where the previous S ended
	for k := range run {
		seg := &run[k]
		t := ticks(seg.Start, ts)
		var d uint64
		switch {
		case !seg.Complete:
			d = ticks(seg.Start+expectedDuration(all, first+k, target), ts) - t
		case k+1 < len(run) && !run[k+1].Discontinuity:
			// Contiguous: the next segment's start, so no rounding gap.
			d = ticks(run[k+1].Start, ts) - t
		default:
			d = ticks(seg.Start+seg.Duration, ts) - t
		}
		tl := st.SegmentTimeline
		if n := len(tl.S); n > 0 && t == next && tl.S[n-1].D == d {
			tl.S[n-1].R++
		} else {
			s := S{D: d}
			if n == 0 || t != next {
				s.T = &t
			}
			tl.S = append(tl.S, s)
		}
		next = t + d
	}
	// Bit rates from the complete segments (else the open one so far).
	var dur time.Duration
	var sizes [3]int64
	measure := func(seg *packager.Segment) {
		dur += seg.Duration
		for _, id := range []int{trackVideo, trackAudio} {
			if o.trackBytes != nil {
				sizes[id] += int64(o.trackBytes(seg, id))
			} else {
				sizes[id] += int64(seg.Size())
			}
		}
	}
	for k := range run {
		if run[k].Complete {
			measure(&run[k])
		}
	}
	if dur == 0 {
		measure(&run[len(run)-1])
	}

	// One AdaptationSet per component (video, then audio), each with the
	// same timeline: the packager cuts both tracks' fragments at the same
	// segment boundaries (audio within one frame of them).
	var sets []AdaptationSet
	for _, t := range in.Tracks {
		id, letter := trackAudio, "a"
		if t.Kind() == av.KindVideo {
			id, letter = trackVideo, "v"
		}
		tmpl := *st
		tmpl.Initialization = o.prefix + snap.SessionID + "_" + letter + "_init" + initID + ".mp4"
		tmpl.Media = o.prefix + snap.SessionID + "_" + letter + "_t$Time$.m4s"
		if k := periodKey(&run[0]); k >= 0 {
			tmpl.Media = o.prefix + snap.SessionID + "_" + letter + "_e" + strconv.FormatInt(k, 10) + "_t$Time$.m4s"
		}
		rep := Representation{ID: letter + initID, Bandwidth: bandwidth(sizes[id], dur), Codecs: packager.CodecsParam(packager.FormatFMP4, t)}
		as := AdaptationSet{
			ID:               len(sets),
			ContentType:      t.Kind().String(),
			MimeType:         "video/mp4",
			SegmentAlignment: true,
			StartWithSAP:     1,
			SegmentTemplate:  &tmpl,
		}
		if id == trackVideo {
			rep.Width, rep.Height = t.Width, t.Height
			if o.frameRate != nil {
				rep.FrameRate = o.frameRate(in)
			}
		} else {
			as.MimeType = "audio/mp4"
			rep.AudioSamplingRate = t.SampleRate
			if t.Codec == av.CodecOpus {
				rep.AudioSamplingRate = av.OpusSampleRate
			}
			if t.Channels > 0 {
				rep.AudioChannelConfiguration = &Descriptor{SchemeIDURI: schemeAudioChannels, Value: strconv.Itoa(t.Channels)}
			}
		}
		as.Representations = []Representation{rep}
		sets = append(sets, as)
	}
	return Period{ID: periodID(&run[0], in), Start: xsDuration(start), AdaptationSets: sets}
}

// bandwidth is the average bit rate of bytes over dur, rounded up to a
// kbit/s, at least 1 kbit/s.
func bandwidth(bytes int64, dur time.Duration) int64 {
	if dur <= 0 {
		return 1000
	}
	bps := float64(bytes*8) / dur.Seconds()
	k := int64(bps/1000) + 1
	return k * 1000
}
