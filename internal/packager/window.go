package packager

import (
	"context"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// Init is an fMP4 initialization section (ftyp+moov) for one set of tracks.
// It is immutable once published.
type Init struct {
	// ID numbers the init sections of one Packager from 0; a new one is made
	// when the tracks change (always together with a discontinuity).
	ID int
	// Data is the serialized ftyp+moov.
	Data []byte
	// Tracks are the tracks it describes, video first (immutable): DASH
	// describes them in the MPD (codecs, size, sample rate).
	Tracks []*av.Track
	// Start is the media time of the first segment that uses it (DASH:
	// the start of the Period it opens).
	Start time.Duration

	tracks [3][]byte // per-track init sections by track ID (TrackData)
}

// TrackData returns the init section describing only track id
// (TrackVideo, TrackAudio), nil if the init has no such track. DASH
// serves it: one media component per Representation.
func (in *Init) TrackData(id int) []byte {
	if id < 0 || id >= len(in.tracks) {
		return nil
	}
	return in.tracks[id]
}

// Part is a partial segment: for fMP4 one CMAF chunk (moof+mdat) holding
// every sample of every track within its time span, and the same samples
// as one fragment per track (Fragment). It is immutable once published
// and shared by every viewer (HLS muxed, DASH per track).
type Part struct {
	// MSN is the media sequence number of the segment holding the part.
	MSN uint64
	// Index numbers the parts of a segment from 0 (RFC 8216bis §6.2.5.2
	// _HLS_part).
	Index int
	// Duration is the part's duration on the leading (video, else audio)
	// track.
	Duration time.Duration
	// Independent reports that the part starts with a keyframe (or holds
	// audio only): RFC 8216bis §4.4.4.9 EXT-X-PART INDEPENDENT=YES.
	Independent bool
	// Data is the serialized part (one moof with every track's traf, one
	// mdat); the concatenation of a segment's parts is the segment.
	Data []byte

	// tracks are the per-track fragments by track ID; their sample bytes
	// are Data's (see trackFragment).
	tracks [3]trackFragment
}

// Fragment returns the CMAF fragment of the part holding only track id's
// samples (TrackVideo, TrackAudio), to be written header then payload;
// both nil when the part has none. The payload is shared with Data, so
// DASH serves the same sample bytes as HLS without a copy or a parse.
func (p *Part) Fragment(id int) (header, payload []byte) {
	if id < 0 || id >= len(p.tracks) {
		return nil, nil
	}
	f := &p.tracks[id]
	return f.header, f.payload
}

// FragmentSize is the byte size of track id's fragment (see Fragment).
func (p *Part) FragmentSize(id int) int {
	h, d := p.Fragment(id)
	return len(h) + len(d)
}

// Samples is how many samples of track id the part holds.
func (p *Part) Samples(id int) int {
	if id < 0 || id >= len(p.tracks) {
		return 0
	}
	return p.tracks[id].samples
}

// Segment is a media segment: it starts at a keyframe (unless the stream
// gives none for MaxSegmentDuration) and is complete once the next one
// starts. A Segment value obtained from a Snapshot is a copy and safe to
// read; the packager appends parts only to its own copy.
type Segment struct {
	// MSN is the media sequence number (RFC 8216bis §4.4.3.2).
	MSN uint64
	// Start is the media time (stream timeline) of its first sample.
	Start time.Duration
	// Duration is the segment's duration; for an open segment, the sum of
	// the parts so far.
	Duration time.Duration
	// ProgramDateTime maps Start onto the wall clock
	// (RFC 8216bis §4.4.4.6 EXT-X-PROGRAM-DATE-TIME).
	ProgramDateTime time.Time
	// Epoch is the media time at which ProgramDateTime's mapping onto the
	// wall clock began: the first segment after a publisher reconnect
	// whose clock moved (anchor.go), else the session's first. DASH
	// starts a Period there.
	Epoch time.Duration
	// Discontinuity marks the first segment after a publisher reconnect or
	// a change of tracks (RFC 8216bis §4.4.4.3 EXT-X-DISCONTINUITY).
	Discontinuity bool
	// Init is the fMP4 initialization section the segment needs; nil for
	// MPEG-TS.
	Init *Init
	// Parts are the fMP4 parts so far; empty for MPEG-TS.
	Parts []*Part
	// TS is the whole MPEG-TS segment, set when complete; nil for fMP4.
	TS []byte
	// Complete reports that no more parts will be added.
	Complete bool
	// Gap marks a placeholder for media time the stream skipped (RFC
	// 8216bis §4.4.4.7 EXT-X-GAP): it has no media and is never served,
	// and exists so that segment numbers keep following media time
	// (AlignMSN) while staying consecutive, as playlists number them.
	Gap bool
}

// Size returns the segment's byte size (complete or not).
func (s *Segment) Size() int {
	if s.TS != nil {
		return len(s.TS)
	}
	n := 0
	for _, p := range s.Parts {
		n += len(p.Data)
	}
	return n
}

// Snapshot is a consistent copy of the packager's window, enough to render
// a playlist or a manifest.
type Snapshot struct {
	// Format is the container of the media.
	Format Format
	// SessionID is unique per Packager (hex); URLs embed it so cached
	// media of an earlier session of the same stream is never confused
	// with this one's.
	SessionID string
	// Segments are the listed segments, oldest first; the last one may be
	// open (Complete false).
	Segments []Segment
	// DiscontinuitySequence is the discontinuity sequence number of
	// Segments[0] (RFC 8216bis §4.4.3.3).
	DiscontinuitySequence uint64
	// TargetDuration bounds every segment's duration rounded to the
	// nearest second (RFC 8216bis §4.4.3.1); whole seconds.
	TargetDuration time.Duration
	// PartTarget bounds every part's duration (RFC 8216bis §4.4.3.7).
	PartTarget time.Duration
	// Ended reports the stream ended: no more segments will come.
	Ended bool
	// DiscontinuityNext reports that the next segment will start a
	// discontinuity (a publisher reconnect is under way, RFC 8216bis
	// §4.4.4.3): playlists must not hint its first part
	// (EXT-X-PRELOAD-HINT), or a client fetches it as the continuation of
	// the old timeline before any playlist shows the EXT-X-DISCONTINUITY.
	DiscontinuityNext bool
	// DVRWindow is the live timeshift window (Options.DVRWindow): 0 for a
	// window of Options.Window segments. Segments cover it once the
	// stream ran that long, unless the byte budget shortened it.
	DVRWindow time.Duration
	// Origin is the wall time of media time 0 on the session's first
	// clock (DASH availabilityStartTime): it stays put when later epochs
	// move the clock (Segment.Epoch). Zero before the first segment.
	Origin time.Time

	memoMu sync.Mutex
	memo   map[string][]byte
}

// maxMemo bounds the renderings one snapshot keeps (playlist variants by
// request options; a few in practice).
const maxMemo = 16

// Memo returns what build made for key from this snapshot, calling build
// once per key: a snapshot is immutable, so a playlist or manifest
// rendered from it is the same for every request that sees it. Renderings
// beyond maxMemo keys are built and not kept.
func (s *Snapshot) Memo(key string, build func() []byte) []byte {
	s.memoMu.Lock()
	defer s.memoMu.Unlock()
	if b, ok := s.memo[key]; ok {
		return b
	}
	b := build()
	if s.memo == nil {
		s.memo = make(map[string][]byte, 4)
	}
	if len(s.memo) < maxMemo {
		s.memo[key] = b
	}
	return b
}

// window is the in-memory window of segments. One mutex guards it; every
// change closes notify, waking the waiters (no polling, no goroutine per
// waiter).
type window struct {
	mu        sync.Mutex
	segs      []*Segment // oldest first; the last may be open
	discSeq   uint64     // discontinuity sequence number of segs[0]
	target    time.Duration
	notify    chan struct{}
	ended     bool
	endErr    error
	listed    int // least complete segments a snapshot lists (Options.Window)
	extra     int // complete segments kept beyond the listed (Options.Retain)
	totalSegs uint64
	// dvr is Options.DVRWindow: a snapshot lists the newest complete
	// segments covering this much media time (at least listed of them).
	dvr time.Duration
	// maxBytes is Options.DVRMaxBytes; bytes is the size of the retained
	// complete segments. Beyond it the oldest are dropped, but never the
	// newest listed+extra (the window without DVR).
	maxBytes int64
	bytes    int64
	// show is how many complete segments a snapshot lists, set by
	// trimLocked.
	show int
	// overBudget, if set, is called (with mu held) the first time
	// maxBytes shortens the DVR window, with the media time then kept.
	overBudget func(kept time.Duration)
	budgetHit  bool
	// maxSegs bounds the segments a DVR window lists (maxDVRSegments).
	maxSegs int
	// snap is the snapshot of the current state, made by the first
	// Snapshot call after a change and shared until the next (wake).
	snap *Snapshot
	// origin is Snapshot.Origin.
	origin time.Time
	// discNext is Snapshot.DiscontinuityNext.
	discNext bool
	// observe, if set (tests), sees every state waiters can see.
	observe func(*window)
}

func newWindow(listed, extra int, target time.Duration) *window {
	return &window{listed: listed, extra: extra, show: listed, maxSegs: maxDVRSegments, target: target, notify: make(chan struct{})}
}

// maxDVRSegments bounds how many segments a DVR window lists whatever its
// duration and byte budget (6 h of 2 s segments, a low-bit-rate stream's
// budget would allow more): every snapshot copies the listed segments
// (about 130 bytes each) and every full playlist lists them.
const maxDVRSegments = 10800

// wake wakes every waiter. Caller holds mu.
func (w *window) wake() {
	close(w.notify)
	w.notify = make(chan struct{})
	w.snap = nil
	if w.observe != nil {
		w.observe(w)
	}
}

// open returns the open segment or nil. Caller holds mu.
func (w *window) open() *Segment {
	if n := len(w.segs); n > 0 && !w.segs[n-1].Complete {
		return w.segs[n-1]
	}
	return nil
}

func (w *window) beginSegment(s *Segment) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.discNext = false
	w.segs = append(w.segs, s)
	w.totalSegs++
	w.wake()
}

// announceDiscontinuity marks the next segment as starting a
// discontinuity (Snapshot.DiscontinuityNext) until it begins.
func (w *window) announceDiscontinuity() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.discNext = true
	w.snap = nil
}

// setOrigin sets Snapshot.Origin.
func (w *window) setOrigin(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.origin = t.UTC()
	w.snap = nil
}

// reanchor moves the open segment onto a refined wall clock (anchor.go):
// pdt is its new date, epoch its epoch start; origin reports that the
// clock is the session's first, whose anchor is the new Snapshot.Origin.
// Waiters need not wake: nothing became available.
func (w *window) reanchor(pdt time.Time, epoch time.Duration, origin bool, anchor time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.open()
	if s == nil {
		return
	}
	s.ProgramDateTime, s.Epoch = pdt, epoch
	if origin {
		w.origin = anchor.UTC()
	}
	w.snap = nil
}

func (w *window) addPart(p *Part) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := w.open(); s != nil {
		s.Parts = append(s.Parts, p)
		s.Duration += p.Duration
		w.wake()
	}
}

// endSegment adds the open segment's last part (nil: none, MPEG-TS) and
// completes it (ts holds an MPEG-TS segment's bytes) in one change of the
// window, and trims the window.
func (w *window) endSegment(dur time.Duration, ts []byte, last *Part) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.open()
	if s == nil {
		return
	}
	if last != nil {
		s.Parts = append(s.Parts, last)
	}
	s.Duration = dur
	s.TS = ts
	s.Complete = true
	w.bytes += int64(s.Size())
	w.trimLocked()
	w.wake()
}

// trimLocked drops the oldest segments no snapshot lists any more (and
// the extra ones kept for clients holding an older playlist), then, with
// a DVR window, the oldest beyond the byte budget, and sets show. Caller
// holds mu.
//
// Without DVR a snapshot lists the newest listed complete segments. With
// it, the newest ones covering dvr of media time: a segment is listed
// while the newer ones sum to less than dvr, so the listed span is at
// least dvr (by less than a segment more) once that much was produced.
// Either way the first listed segment only moves forward.
func (w *window) trimLocked() {
	complete := len(w.segs)
	if w.open() != nil {
		complete--
	}
	want := w.listed
	if w.dvr > 0 {
		var sum time.Duration
		k := 0
		for i := complete - 1; i >= 0 && sum < w.dvr; i-- {
			sum += w.segs[i].Duration
			k++
		}
		want = max(want, min(k, w.maxSegs))
	}
	for complete > want+w.extra {
		w.dropOldestLocked()
		complete--
	}
	if w.dvr > 0 && w.maxBytes > 0 && w.bytes > w.maxBytes && complete > w.listed+w.extra {
		for w.bytes > w.maxBytes && complete > w.listed+w.extra {
			w.dropOldestLocked()
			complete--
		}
		if !w.budgetHit && w.overBudget != nil {
			w.budgetHit = true
			var kept time.Duration
			for _, s := range w.segs[:complete] {
				kept += s.Duration
			}
			w.overBudget(kept)
		}
	}
	w.show = want
	if w.budgetHit {
		// Once the budget cut the window, the extra segments are still
		// kept behind the listed ones (until it no longer cuts).
		w.show = min(want, max(w.listed, complete-w.extra))
	}
}

// dropOldestLocked forgets the oldest segment. Caller holds mu.
func (w *window) dropOldestLocked() {
	if len(w.segs) > 1 && w.segs[1].Discontinuity {
		w.discSeq++
	}
	if w.segs[0].Complete {
		w.bytes -= int64(w.segs[0].Size())
	}
	w.segs[0] = nil
	w.segs = w.segs[1:]
}

// addGaps appends complete gap segments (Segment.Gap) after the last
// segment, which is complete; the caller begins the next segment at once.
func (w *window) addGaps(gaps []*Segment) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.segs = append(w.segs, gaps...)
	w.totalSegs += uint64(len(gaps))
	w.trimLocked()
}

// fixTarget sets the target duration (before the first segment
// completes: Packager.fixTarget).
func (w *window) fixTarget(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.target = d
}

// end marks the stream ended. Caller has closed any open segment.
func (w *window) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return
	}
	w.ended, w.endErr = true, err
	w.wake()
}

// snapshot copies the listed part of the window. Caller holds mu.
func (w *window) snapshotLocked(s *Snapshot) {
	first := 0
	complete := len(w.segs)
	if w.open() != nil {
		complete--
	}
	if complete > w.show {
		first = complete - w.show
	}
	s.DiscontinuitySequence = w.discSeq
	for i := 1; i <= first && i < len(w.segs); i++ {
		if w.segs[i].Discontinuity {
			s.DiscontinuitySequence++
		}
	}
	s.Segments = make([]Segment, 0, len(w.segs)-first)
	for _, seg := range w.segs[first:] {
		s.Segments = append(s.Segments, *seg)
	}
	s.TargetDuration = w.target
	s.Ended = w.ended
	s.Origin = w.origin
	s.DVRWindow = w.dvr
	s.DiscontinuityNext = w.discNext && w.open() == nil
}

// find returns the segment with the given MSN among the retained ones.
// Caller holds mu.
func (w *window) find(msn uint64) *Segment {
	if len(w.segs) == 0 || msn < w.segs[0].MSN {
		return nil
	}
	i := msn - w.segs[0].MSN
	if i >= uint64(len(w.segs)) {
		return nil
	}
	return w.segs[i]
}

// wait blocks until cond (called with mu held) is true, the stream ended
// or ctx is done. It reports whether cond became true.
func (w *window) wait(ctx context.Context, cond func() bool) bool {
	for {
		w.mu.Lock()
		if cond() {
			w.mu.Unlock()
			return true
		}
		if w.ended {
			w.mu.Unlock()
			return false
		}
		ch := w.notify
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}
