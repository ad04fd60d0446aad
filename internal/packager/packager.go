// Package packager turns a hub stream into CMAF/fMP4 (an init section,
// segments cut at keyframes, parts inside segments) or MPEG-TS segments,
// kept in an in-memory window of immutable parts. A version channel wakes
// waiters (blocking playlist reloads, preload-hinted part requests) when a
// part or segment is published.
//
// One Packager is one rendition of one stream; it names nothing in URLs, so
// HLS (internal/server/hls) and DASH can serve the same bytes, addressed by
// media sequence number and part index. It imports av, hub and mediacommon,
// never a server.
package packager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// Format is the container a Packager produces.
type Format uint8

// Formats.
const (
	// FormatFMP4 is CMAF/fMP4: init section + moof/mdat parts.
	FormatFMP4 Format = iota
	// FormatMPEGTS is MPEG-TS segments (no parts).
	FormatMPEGTS
)

func (f Format) String() string {
	if f == FormatMPEGTS {
		return "mpegts"
	}
	return "fmp4"
}

// ErrUnsupportedCodec is wrapped by errors about a codec a format cannot
// carry.
var ErrUnsupportedCodec = errors.New("codec not supported by the container")

// Supports returns nil when f can carry codec c, else an error wrapping
// ErrUnsupportedCodec that says what the format carries.
func Supports(f Format, c av.Codec) error {
	switch f {
	case FormatMPEGTS:
		switch c {
		case av.CodecH264, av.CodecH265, av.CodecAAC, av.CodecMP3:
			return nil
		}
		return fmt.Errorf("%w: MPEG-TS cannot carry %s %s (it carries H.264/H.265 video and AAC/MP3 audio; use hls.variant fmp4 or lowlatency)",
			ErrUnsupportedCodec, c, c.Kind())
	default:
		switch c {
		case av.CodecH264, av.CodecH265, av.CodecAV1, av.CodecAAC, av.CodecOpus, av.CodecMP3:
			return nil
		}
		return fmt.Errorf("%w: fMP4 cannot carry %s %s", ErrUnsupportedCodec, c, c.Kind())
	}
}

// Options configure a Packager. Zero values take the documented defaults.
type Options struct {
	// Format is the container. Default FormatFMP4.
	Format Format
	// SegmentDuration is the shortest segment: a segment is cut at the
	// first keyframe at least this long after its start, so segments last
	// this long or one GOP, whichever is larger. The target duration is
	// fixed when the first segment completes (this rounded up, or that
	// segment's GOP if longer); later segments are cut without a keyframe
	// rather than outgrow it. Default 2 s.
	SegmentDuration time.Duration
	// PartDuration is the nominal part duration: parts hold as many whole
	// frames as fit in it (plus partSlack, the timestamp resolution), so
	// parts of a constant-rate stream are equal and tile a segment of
	// whole GOPs exactly. PART-TARGET (RFC 8216bis §4.4.3.7) is
	// PartDuration+partSlack, the longest part made (unless one frame is
	// longer). Default 200 ms.
	PartDuration time.Duration
	// MaxSegmentDuration cuts a segment without a keyframe when the stream
	// gives none for this long. Default 5×SegmentDuration.
	MaxSegmentDuration time.Duration
	// MaxSegmentBytes cuts a segment that grows beyond this many bytes.
	// Default 32 MiB.
	MaxSegmentBytes int
	// Window is how many complete segments a Snapshot lists. Default 7.
	Window int
	// Retain is how many complete segments beyond Window stay fetchable,
	// for clients holding an older playlist. Default 2.
	Retain int
	// DVRWindow, when positive, makes snapshots list the newest complete
	// segments covering this much media time (live timeshift), at least
	// Window of them, at most maxDVRSegments. Default 0: Window segments.
	DVRWindow time.Duration
	// DVRMaxBytes bounds the bytes of the complete segments kept with a
	// DVRWindow: beyond it the oldest are dropped (the window shortens,
	// logged once), though never the newest Window+Retain. Default
	// DefaultDVRMaxBytes.
	DVRMaxBytes int64
	// AlignMSN numbers the first segment round(start/SegmentDuration)
	// instead of 0 (the following ones consecutively, as always), so the
	// packagers of the renditions of one ladder — one timeline, keyframes
	// on a shared SegmentDuration grid — give matching content the same
	// Media Sequence Number however late each started (RFC 8216bis §6.2.4
	// variant streams; §4.4.5.4 rendition reports; DASH $Number$).
	// Default false: numbering starts at 0.
	AlignMSN bool
	// Logger receives packager logs. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.SegmentDuration <= 0 {
		o.SegmentDuration = 2 * time.Second
	}
	if o.PartDuration <= 0 {
		o.PartDuration = 200 * time.Millisecond
	}
	if o.MaxSegmentDuration <= 0 {
		o.MaxSegmentDuration = 5 * o.SegmentDuration
	}
	if o.MaxSegmentBytes <= 0 {
		o.MaxSegmentBytes = 32 << 20
	}
	if o.Window <= 0 {
		o.Window = 7
	}
	if o.Retain < 0 {
		o.Retain = 0
	} else if o.Retain == 0 {
		o.Retain = 2
	}
	if o.DVRWindow < 0 {
		o.DVRWindow = 0
	}
	if o.DVRMaxBytes <= 0 {
		o.DVRMaxBytes = DefaultDVRMaxBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// DefaultDVRMaxBytes is the default Options.DVRMaxBytes: 512 MiB, about
// 20 minutes of a 3.5 Mbit/s stream.
const DefaultDVRMaxBytes = 512 << 20

// partSlack is added to PartDuration to make the part limit: RTMP/FLV
// timestamps are whole milliseconds, so n frames of a constant-rate
// stream span up to 1 ms more than n exact frame durations (29.97 fps:
// six frames are 200 or 201 ms). Without it jitter alone splits a frame
// off some parts, and a segment ends in a one-frame runt part.
const partSlack = time.Millisecond

// maxQueued bounds the samples of one track waiting for a part (a stalled
// video track must not let audio pile up).
const maxQueued = 4096

// Packager packages one stream. WritePacket and End are called from one
// goroutine (Run's); every other method is safe for concurrent use.
type Packager struct {
	opts Options
	id   string
	win  *window
	log  *slog.Logger

	// Owned by the writing goroutine.
	// lastPart is a segment's final part, held back by flushPart while
	// closing so that it is published together with the segment's end
	// (closeSegment): no playlist shows it in a still-open segment, which
	// would hint a part after it that never comes.
	lastPart     *Part
	closing      bool
	fm           fmp4Muxer
	ts           tsMuxer
	tsReset      bool
	video, audio *trackState
	lead         *trackState
	init         *Init
	nextInitID   int
	open         bool
	msn          uint64 // MSN of the open segment, or of the next one
	segStart     int64  // lead ticks
	partStart    int64  // lead ticks
	partIndex    int
	segBytes     int
	produced     bool // a segment was opened before
	pendingDisc  bool
	clock        anchorState // wall-clock mapping (anchor.go)
	unsupported  map[av.Codec]bool
	segTicks     int64
	segTarget    int64
	partLimit    int64 // longest part, lead ticks (PART-TARGET)
	segFrames    int64 // lead samples queued since the segment began
	maxSegTicks  int64
	// target is EXT-X-TARGETDURATION once fixed (0 before the first
	// segment completes, see fixTarget); fitTicks (lead ticks) is the
	// longest segment that rounds to at most target.
	target       time.Duration
	fitTicks     int64
	defaultTicks [2]int64
	// segStartTime is the open segment's start and prevEnd the last
	// closed one's end, in media time (fillGap).
	segStartTime time.Duration
	prevEnd      time.Duration
	// epochFirst: the open segment begins an epoch (the stream's first,
	// after a discontinuity) and its first part is not out yet; its audio
	// must not start before its video (flushPart).
	epochFirst bool
}

// trackState is one track's timing state.
type trackState struct {
	track     *av.Track
	id        int
	timescale uint32
	pending   sample
	hasPend   bool
	queue     []sample
	lastDur   int64
	// Audio only (audiotime.go): AAC samples per frame, where the last
	// frame ends and its codec duration (0: not known).
	aacFrame int64
	nextDTS  int64
	haveNext bool
	frameDur int64
}

// sample is a packet with its timing in its track's timescale.
type sample struct {
	pkt *av.Packet
	dts int64
	cts int64
	dur int64
}

// sampleGroup is the samples of one track for one part.
type sampleGroup struct {
	ts      *trackState
	samples []sample
}

// New returns a packager; video and audio are the stream's current tracks
// (either may be nil; tracks seen later in packets are added with a
// discontinuity).
func New(opts Options) *Packager {
	opts.setDefaults()
	// 128 random bits: media URLs carry no credentials (only playlist and
	// MPD requests are authorized), so they must be unguessable.
	var idb [16]byte
	_, _ = rand.Read(idb[:])
	target := time.Duration(math.Ceil(opts.SegmentDuration.Seconds())) * time.Second
	p := &Packager{
		opts:        opts,
		id:          hex.EncodeToString(idb[:]),
		win:         newWindow(opts.Window, opts.Retain, target),
		log:         opts.Logger,
		unsupported: make(map[av.Codec]bool),
	}
	p.win.dvr, p.win.maxBytes = opts.DVRWindow, opts.DVRMaxBytes
	p.win.overBudget = func(kept time.Duration) {
		// Once per packager: the budget then keeps shortening the window
		// with every segment, which would flood the log.
		p.log.Warn("hls dvr window shortened by hls.dvr_max_bytes",
			"dvr_window", opts.DVRWindow, "dvr_max_bytes", opts.DVRMaxBytes, "kept", kept.Round(time.Second))
	}
	return p
}

// SessionID returns the packager's unique ID: 128 random bits as 32 hex
// digits, the capability in its media URLs.
func (p *Packager) SessionID() string { return p.id }

// Format returns the packager's container format.
func (p *Packager) Format() Format { return p.opts.Format }

// PartTarget returns the part target duration (RFC 8216bis §4.4.3.7): no
// part is longer, unless a single frame is.
func (p *Packager) PartTarget() time.Duration { return p.opts.PartDuration + partSlack }

// ticks converts a duration to a timescale without overflow.
func ticks(d time.Duration, timescale uint32) int64 {
	ts := int64(timescale)
	return int64(d/time.Second)*ts + int64(d%time.Second)*ts/int64(time.Second)
}

// duration converts ticks of a timescale to a duration.
func duration(t int64, timescale uint32) time.Duration {
	ts := int64(timescale)
	return time.Duration(t/ts)*time.Second + time.Duration(t%ts)*time.Second/time.Duration(ts)
}

func timescaleOf(t *av.Track) uint32 {
	if t.Kind() == av.KindVideo {
		return 90000
	}
	if t.Codec == av.CodecOpus {
		return av.OpusSampleRate
	}
	if t.SampleRate > 0 {
		return uint32(t.SampleRate)
	}
	return 48000
}

// sameTrack reports whether b can continue a (same codec and
// configuration): only then is no new init section needed.
func sameTrack(a, b *av.Track) bool {
	return a == b || (a.Codec == b.Codec && string(a.Config) == string(b.Config))
}

// SetTracks declares the stream's tracks before the first packet (either
// may be nil). Tracks a format cannot carry are left out with a warning;
// if none remains, the error wraps ErrUnsupportedCodec.
func (p *Packager) SetTracks(video, audio *av.Track) error {
	var errs []error
	if video != nil {
		if err := SupportsTrack(p.opts.Format, video); err != nil {
			errs = append(errs, err)
			p.warnUnsupported(video.Codec, err)
		} else {
			p.setTrack(video)
		}
	}
	if audio != nil {
		if err := SupportsTrack(p.opts.Format, audio); err != nil {
			errs = append(errs, err)
			p.warnUnsupported(audio.Codec, err)
		} else {
			p.setTrack(audio)
		}
	}
	if p.video == nil && p.audio == nil && len(errs) > 0 {
		return fmt.Errorf("packager: %w", errors.Join(errs...))
	}
	return nil
}

func (p *Packager) warnUnsupported(c av.Codec, err error) {
	if !p.unsupported[c] {
		p.unsupported[c] = true
		p.log.Warn("packager dropping track", "format", p.opts.Format.String(), "codec", c.String(), "reason", err.Error())
	}
}

// setTrack installs t as its kind's track; a new init section follows.
func (p *Packager) setTrack(t *av.Track) {
	ts := &trackState{track: t, timescale: timescaleOf(t)}
	if t.Codec == av.CodecAAC {
		ts.aacFrame = aacFrameSamples(t.Config)
	}
	if t.Kind() == av.KindVideo {
		ts.id = TrackVideo
		p.video = ts
	} else {
		ts.id = TrackAudio
		p.audio = ts
	}
	if p.video != nil {
		p.lead = p.video
	} else {
		p.lead = p.audio
	}
	p.segTarget = ticks(p.opts.SegmentDuration, p.lead.timescale)
	p.partLimit = ticks(p.PartTarget(), p.lead.timescale)
	p.maxSegTicks = ticks(p.opts.MaxSegmentDuration, p.lead.timescale)
	if p.target > 0 {
		p.fitTicks = ticks(p.target+time.Second/2, p.lead.timescale) - 1
	}
	p.init = nil
	p.tsReset = true
}

// WritePacket adds one packet of the stream. Packets before the first
// keyframe are dropped; a packet marked Discontinuity, or whose track's
// configuration changed, closes the segment and starts a new one flagged
// as a discontinuity. An error means the packager cannot continue.
func (p *Packager) WritePacket(pkt *av.Packet) error {
	if pkt.Track == nil || pkt.DTS < 0 {
		return nil
	}
	if err := SupportsTrack(p.opts.Format, pkt.Track); err != nil {
		p.warnUnsupported(pkt.Track.Codec, err)
		return nil
	}
	kind := pkt.Kind()
	ts := p.audio
	if kind == av.KindVideo {
		ts = p.video
	}
	changed := ts == nil || !sameTrack(ts.track, pkt.Track)
	if pkt.Discontinuity || changed {
		if p.produced {
			// Before closing: no snapshot may show the segment closed
			// with the next one hinted as its continuation.
			p.pendingDisc = true
			p.win.announceDiscontinuity()
		}
		if p.open {
			if err := p.closeAll(); err != nil {
				return err
			}
		}
	}
	if changed {
		p.setTrack(pkt.Track)
		if kind == av.KindVideo {
			ts = p.video
		} else {
			ts = p.audio
		}
	}
	dts := ticks(pkt.DTS, ts.timescale)
	cts := ticks(pkt.PTS, ts.timescale) - dts
	if kind == av.KindAudio {
		dts = ts.audioDTS(pkt, dts) // a running sample count, not rounded ms
	}
	if ts.hasPend && dts <= ts.pending.dts {
		dts = ts.pending.dts + 1 // keep decode time strictly increasing
	}
	s := sample{pkt: pkt, dts: dts, cts: cts}
	if ts == p.lead {
		if err := p.leadSample(ts, s); err != nil {
			return err
		}
		if p.open && p.clock.observe(pkt) {
			// An earlier-arriving packet of the epoch's first segment:
			// the open segment's date moves to the refined clock.
			p.win.reanchor(p.clock.anchor.Add(p.segStartTime).UTC(), p.clock.start, p.clock.origin, p.clock.anchor)
		}
		return nil
	}
	if ts.hasPend {
		p.finalize(ts, dts)
	}
	if !p.open {
		return nil // nothing to attach to before the first keyframe
	}
	ts.pending, ts.hasPend = s, true
	return nil
}

// leadSample handles a sample of the leading track: it drives part and
// segment boundaries.
//
// Parts hold whole frames and never exceed partLimit. A part is closed as
// soon as the next frame, of the segment's mean frame duration, would not
// fit (not the last frame's duration: millisecond timestamps make that
// jitter by a tick, which split a frame off every few parts and left a
// one-frame runt at each segment's end, hls.js issue #5028); a frame
// that turns out longer than predicted closes the part before it.
func (p *Packager) leadSample(ts *trackState, s sample) error {
	if ts.hasPend {
		if p.open && len(ts.queue) > 0 && s.dts-p.partStart > p.partLimit {
			if err := p.flushPart(ts.pending.dts, ts.pending.pkt.DTS); err != nil {
				return err
			}
		}
		p.finalize(ts, s.dts)
		p.segFrames++
	}
	isVideo := ts == p.video
	if !p.open {
		if isVideo && !s.pkt.Key {
			return nil // wait for a keyframe
		}
		if err := p.openSegment(s); err != nil {
			return err
		}
		ts.pending, ts.hasPend = s, true
		return nil
	}
	segDur := s.dts - p.segStart
	randomAccess := !isVideo || s.pkt.Key
	var err error
	switch {
	case randomAccess && segDur >= p.segTarget,
		segDur >= p.maxSegTicks, p.segBytes >= p.opts.MaxSegmentBytes,
		// The next frame would make the segment longer than the fixed
		// target duration allows: cut it, at a keyframe or not.
		p.fitTicks > 0 && segDur+segDur/max(p.segFrames, 1) > p.fitTicks:
		err = p.cutSegment(s)
	case isVideo && s.pkt.Key:
		// A part boundary at every keyframe, so it is INDEPENDENT.
		err = p.flushPart(s.dts, s.pkt.DTS)
	case s.dts-p.partStart+segDur/max(p.segFrames, 1) > p.partLimit:
		// The next frame (s) would overrun the part limit: close the part
		// now rather than a frame late.
		err = p.flushPart(s.dts, s.pkt.DTS)
	}
	if err != nil {
		return err
	}
	ts.pending, ts.hasPend = s, true
	return nil
}

// finalize gives ts's pending sample its duration (up to nextDTS) and
// queues it for the next part.
func (p *Packager) finalize(ts *trackState, nextDTS int64) {
	s := ts.pending
	ts.hasPend = false
	s.dur = nextDTS - s.dts
	if s.dur <= 0 {
		s.dur = 1
	}
	ts.lastDur = s.dur
	if len(ts.queue) >= maxQueued {
		copy(ts.queue, ts.queue[1:])
		ts.queue = ts.queue[:len(ts.queue)-1]
	}
	ts.queue = append(ts.queue, s)
}

// defaultDur is a sample duration for a track whose next sample will not
// come (end of stream, discontinuity).
func defaultDur(ts *trackState) int64 {
	if ts.frameDur > 0 {
		return ts.frameDur // the codec says
	}
	if ts.lastDur > 0 {
		return ts.lastDur
	}
	if ts.track.Kind() == av.KindVideo {
		return int64(ts.timescale) / 25
	}
	if ts.track.Codec == av.CodecAAC {
		return 1024
	}
	if ts.track.Codec == av.CodecMP3 {
		return int64(av.MP3FrameSamples(ts.track))
	}
	return int64(ts.timescale) / 50
}

func (p *Packager) openSegment(s sample) error {
	if p.opts.Format == FormatFMP4 && p.init == nil {
		var tracks []*trackState
		var avTracks []*av.Track
		for _, ts := range []*trackState{p.video, p.audio} {
			if ts != nil {
				tracks = append(tracks, ts)
				avTracks = append(avTracks, ts.track)
			}
		}
		data, one, err := p.fm.makeInit(tracks)
		if err != nil {
			return err
		}
		p.init = &Init{ID: p.nextInitID, Data: data, Tracks: avTracks, Start: s.pkt.DTS, tracks: one}
		p.nextInitID++
	}
	if p.opts.Format == FormatMPEGTS {
		if p.tsReset {
			if err := p.ts.reset(p.video, p.audio); err != nil {
				return err
			}
			p.tsReset = false
		}
		if err := p.ts.begin(); err != nil {
			return err
		}
	}
	// mfhd sequence numbers (ISO 14496-12 §8.8.5) follow media time
	// (about one per part duration) as well as counting up: a later
	// packager of the same stream (after an idle stop or a restart)
	// continues above the earlier one's instead of at 1 (VLC: "Fragment
	// sequence discontinuity"), and renditions of one ladder number
	// alike.
	p.fm.seq = max(p.fm.seq, uint32(s.pkt.DTS/p.opts.PartDuration))
	// A discontinuity (republish, new tracks, restart) begins a new
	// wall-clock epoch (anchor.go); fillGap may take the flag for its gap
	// segments, so read it first.
	disc := p.pendingDisc
	if disc {
		p.clock.newEpoch = true
	}
	if p.produced && p.opts.AlignMSN {
		p.fillGap(s.pkt.DTS)
	}
	if !p.produced && p.opts.AlignMSN && s.pkt.DTS > 0 {
		seg := p.opts.SegmentDuration
		p.msn = uint64((s.pkt.DTS + seg/2) / seg)
	}
	anchor, epoch := p.clock.beginSegment(s.pkt)
	seg := &Segment{
		MSN:             p.msn,
		Start:           s.pkt.DTS,
		ProgramDateTime: anchor.Add(s.pkt.DTS).UTC(),
		Epoch:           epoch,
		Discontinuity:   disc,
		Init:            p.init,
	}
	p.win.beginSegment(seg)
	if p.clock.origin && p.clock.refining {
		p.win.setOrigin(anchor)
	}
	p.epochFirst = disc || !p.produced
	p.pendingDisc, p.open, p.produced = false, true, true
	p.segStartTime = s.pkt.DTS
	p.segStart, p.partStart, p.partIndex, p.segBytes, p.segFrames = s.dts, s.dts, 0, 0, 0
	return nil
}

// flushPart publishes the queued lead samples (up to cut) and the other
// track's samples that start before cutTime as one part.
func (p *Packager) flushPart(cut int64, cutTime time.Duration) error {
	lead := p.lead
	if len(lead.queue) == 0 {
		p.partStart = cut
		return nil
	}
	var groups [2]sampleGroup
	n := 0
	var video, audio []sample
	for _, ts := range []*trackState{p.video, p.audio} {
		if ts == nil {
			continue
		}
		if p.closing && ts != lead && ts.hasPend && ts.frameDur > 0 && sampleTime(ts, ts.pending) < cutTime {
			// A segment's last part: the newest audio frame starts before
			// the cut but would wait for its successor to learn its
			// duration, which the codec already gives. Without it every
			// segment's audio ended up to a frame short of its video, so
			// the buffered range (audio ∩ video in MSE) ended just before
			// the segment's end; hls.js then looked for the next media
			// inside the segment it had fully loaded, found nothing to
			// load and stalled until its live-edge jump.
			//
			// Not for the other parts: their audio may end up to a frame
			// early (the next part carries on seamlessly), and must not
			// end exactly with the video in the part before a segment's
			// last. hls.js counts a fragment it knows to be complete as
			// fully buffered when no more than 0.2 s of it is missing
			// (fragment-tracker bufferPadding), exactly one 200 ms part:
			// the segment's last part was then never fetched.
			p.finalize(ts, ts.pending.dts+ts.frameDur)
		}
		if ts != lead && p.epochFirst {
			// Audio that came after the epoch's first keyframe but starts
			// before it is dropped: a player syncs a new timeline on
			// whichever track starts first (hls.js: initPTS from the
			// audio), and part and segment positions then follow the
			// audio, which ends a frame past the video at each segment's
			// end (above): the buffered range (audio ∩ video) then ended
			// short of each segment and hls.js stalled at every boundary.
			d := 0
			for d < len(ts.queue) && sampleTime(ts, ts.queue[d]) < p.segStartTime {
				d++
			}
			rest := copy(ts.queue, ts.queue[d:])
			clear(ts.queue[rest:])
			ts.queue = ts.queue[:rest]
		}
		k := len(ts.queue)
		if ts != lead {
			k = 0
			for k < len(ts.queue) && sampleTime(ts, ts.queue[k]) < cutTime {
				k++
			}
		}
		groups[n] = sampleGroup{ts: ts, samples: ts.queue[:k]}
		n++
		if ts == p.video {
			video = ts.queue[:k]
		} else {
			audio = ts.queue[:k]
		}
	}
	var dur int64
	for _, s := range lead.queue {
		dur += s.dur
	}
	part := &Part{
		MSN:         p.msn,
		Index:       p.partIndex,
		Duration:    duration(dur, lead.timescale),
		Independent: lead != p.video || lead.queue[0].pkt.Key,
	}
	if p.opts.Format == FormatFMP4 {
		data, tracks, err := p.fm.makePart(groups[:n])
		if err != nil {
			return err
		}
		part.Data, part.tracks = data, tracks
		p.segBytes += len(data)
		if p.closing {
			p.lastPart = part
		} else {
			p.win.addPart(part)
		}
	} else {
		if err := p.ts.write(video, audio); err != nil {
			return err
		}
		p.segBytes = p.ts.buf.Len()
	}
	p.partIndex++
	p.epochFirst = false
	for i := 0; i < n; i++ {
		ts := groups[i].ts
		k := len(groups[i].samples)
		rest := copy(ts.queue, ts.queue[k:])
		clear(ts.queue[rest:])
		ts.queue = ts.queue[:rest]
	}
	p.partStart = cut
	return nil
}

// sampleTime is when s starts: its decode time in ts's timescale (for
// audio an exact sample count, audiotime.go), not its packet's
// millisecond timestamp, so that a part's audio ends where its video does
// to the sample rather than up to a millisecond short.
func sampleTime(ts *trackState, s sample) time.Duration {
	return duration(s.dts, ts.timescale)
}

// cutSegment ends the open segment before s and opens the next at s.
func (p *Packager) cutSegment(s sample) error {
	p.closing = true
	if err := p.flushPart(s.dts, s.pkt.DTS); err != nil {
		return err
	}
	p.closeSegment(s.dts)
	return p.openSegment(s)
}

// closeSegment completes the open segment, which ends at end (lead ticks).
func (p *Packager) closeSegment(end int64) {
	var ts []byte
	if p.opts.Format == FormatMPEGTS {
		ts = p.ts.end()
	}
	dur := duration(end-p.segStart, p.lead.timescale)
	p.prevEnd = p.segStartTime + dur
	if p.target == 0 {
		p.fixTarget(dur)
	}
	p.win.endSegment(dur, ts, p.lastPart)
	p.lastPart, p.closing = nil, false
	p.open = false
	p.msn++
}

// fillGap keeps segment numbers on media time (AlignMSN) when the stream
// skipped media before start (a transcoder restarted with its source's
// timestamps, a reader jumped ahead): the next segment is numbered
// round(start/SegmentDuration), as the other renditions number the same
// media, and the numbers skipped become gap segments (EXT-X-GAP) tiling
// the missing time, since playlists number segments consecutively. Only
// a real gap of at least half a segment counts: a GOP longer than
// SegmentDuration advances numbers by one per segment as ever.
func (p *Packager) fillGap(start time.Duration) {
	seg := p.opts.SegmentDuration
	if start-p.prevEnd < seg/2 || start < 0 {
		return
	}
	grid := uint64((start + seg/2) / seg)
	if grid <= p.msn {
		return
	}
	// Only the newest retained numbers can still be listed or fetched:
	// Window of them, or with a DVR window as many as it lists (the gap
	// segments tile the missing time behind the older segments it keeps).
	keep := p.opts.Window
	if p.opts.DVRWindow > 0 {
		keep = max(keep, min(int((p.opts.DVRWindow+seg-1)/seg)+1, maxDVRSegments))
	}
	n := min(grid-p.msn, uint64(keep+p.opts.Retain))
	from := max(p.prevEnd, start-time.Duration(n)*seg)
	gaps := make([]*Segment, n)
	for i := range gaps {
		a := from + (start-from)*time.Duration(i)/time.Duration(n)
		b := from + (start-from)*time.Duration(i+1)/time.Duration(n)
		gaps[i] = &Segment{
			MSN: grid - n + uint64(i), Start: a, Duration: b - a,
			ProgramDateTime: p.clock.anchor.Add(a).UTC(),
			Epoch:           p.clock.start,
			Discontinuity:   i == 0 && p.pendingDisc,
			Complete:        true, Gap: true,
		}
	}
	p.pendingDisc = false
	p.win.addGaps(gaps)
	p.log.Info("packager skipped media time", "from", p.prevEnd, "to", start, "msn", grid, "skipped", grid-p.msn)
	p.msn = grid
}

// fixTarget picks EXT-X-TARGETDURATION once, when the first segment
// completes: RFC 8216 §6.2.1 forbids changing it in a playlist's life, and
// no playlist is served before a segment is complete (servers wait for
// one), so it can still follow a GOP longer than SegmentDuration. Later
// segments are cut, without a keyframe if need be (leadSample), so that
// none rounds to more (§4.3.3.1).
func (p *Packager) fixTarget(first time.Duration) {
	p.target = max(time.Duration(math.Ceil(p.opts.SegmentDuration.Seconds()))*time.Second, first.Round(time.Second))
	p.fitTicks = ticks(p.target+time.Second/2, p.lead.timescale) - 1
	p.win.fixTarget(p.target)
}

// closeAll publishes everything pending and closes the open segment (at a
// discontinuity or the end of the stream).
func (p *Packager) closeAll() error {
	if !p.open {
		return nil
	}
	for _, ts := range []*trackState{p.video, p.audio} {
		if ts != nil && ts.hasPend {
			p.finalize(ts, ts.pending.dts+defaultDur(ts))
		}
	}
	end := p.partStart
	for _, s := range p.lead.queue {
		end += s.dur
	}
	endTime := duration(end, p.lead.timescale)
	for _, ts := range []*trackState{p.video, p.audio} {
		if ts != nil && ts != p.lead {
			clipQueue(ts, endTime)
		}
	}
	p.closing = true
	if err := p.flushPart(end, endTime); err != nil {
		return err
	}
	p.closeSegment(end)
	for _, ts := range []*trackState{p.video, p.audio} {
		if ts != nil {
			clear(ts.queue)
			ts.queue = ts.queue[:0]
		}
	}
	return nil
}

// clipQueue makes ts's queued samples end by end (media time): the
// segment closed at a discontinuity must not carry audio past its video.
// A player maps the next epoch's first video frame to that video end
// (hls.js: from the playlist), so audio reaching beyond it overlaps the
// new epoch's first audio and its decode times go backwards; MSE then
// (coded frame processing, step 6) needs a random access point on every
// track and drops the new epoch's video up to its second keyframe — the
// picture froze for a GOP after each republish while audio played on.
// Samples starting at or after end are dropped, the last one is
// shortened to end there.
func clipQueue(ts *trackState, end time.Duration) {
	k := len(ts.queue)
	for k > 0 && sampleTime(ts, ts.queue[k-1]) >= end {
		k--
	}
	clear(ts.queue[k:])
	ts.queue = ts.queue[:k]
	if k == 0 {
		return
	}
	last := &ts.queue[k-1]
	if e := ticks(end, ts.timescale); last.dts+last.dur > e {
		last.dur = max(1, e-last.dts)
	}
}

// End closes the open segment and marks the stream ended (playlists get
// EXT-X-ENDLIST); err is why (nil: the stream ended normally).
func (p *Packager) End(err error) {
	if cerr := p.closeAll(); cerr != nil && err == nil {
		err = cerr
	}
	p.win.end(err)
}

// Run feeds the packager from a hub reader until the stream ends, the
// reader fails or ctx ends; it then calls End and returns the reason.
func (p *Packager) Run(ctx context.Context, r *hub.Reader) error {
	err := p.feed(ctx, r)
	if errors.Is(err, hub.ErrEnded) {
		p.End(nil)
		return nil
	}
	p.End(err)
	return err
}

// feed writes r's packets until reading or packaging fails and returns
// why (hub.ErrEnded once the stream ended and was drained).
func (p *Packager) feed(ctx context.Context, r *hub.Reader) error {
	batch := make([]*av.Packet, 0, 64)
	for {
		var err error
		batch, err = r.Read(ctx, batch[:0])
		for _, pkt := range batch {
			if werr := p.WritePacket(pkt); werr != nil {
				clear(batch)
				return werr
			}
		}
		clear(batch)
		if err != nil {
			return err
		}
	}
}

// restart makes the packager continue after feed failed while its stream
// is still live (Manager): it closes the open segment with what was
// published, and what follows — from a new reader, whose tracks are
// video and audio — starts a new segment flagged as a discontinuity. The
// session, the window and the numbering go on, so polling players see an
// EXT-X-DISCONTINUITY rather than an EXT-X-ENDLIST.
func (p *Packager) restart(video, audio *av.Track) error {
	if p.produced {
		p.win.announceDiscontinuity()
	}
	if p.open {
		if err := p.closeAll(); err != nil && p.open {
			// The failing write left state closeAll cannot serialize:
			// end the segment with the parts already published.
			p.lastPart, p.closing = nil, false
			p.closeSegment(p.partStart)
		}
	}
	for _, ts := range []*trackState{p.video, p.audio} {
		if ts != nil {
			clear(ts.queue)
			ts.queue, ts.hasPend = ts.queue[:0], false
		}
	}
	p.lastPart, p.closing = nil, false
	p.video, p.audio, p.lead, p.init = nil, nil, nil, nil
	if p.produced {
		p.pendingDisc = true
	}
	return p.SetTracks(video, audio)
}
