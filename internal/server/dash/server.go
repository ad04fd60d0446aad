// Package dashserver serves MPEG-DASH (ISO/IEC 23009-1) from the same
// packagers as HLS fMP4: a dynamic MPD per stream (an AdaptationSet per
// component, each with one Representation described by a SegmentTemplate
// with $Number$ and a SegmentTimeline), init sections and media segments
// from memory, and the segment being written streamed part by part
// (chunked transfer; low-latency DASH).
//
// Package once, describe twice: a DASH URL names the packager's session
// ID and media sequence number, like HLS's. The packager muxes audio and
// video into one fMP4; DASH clients need one component per
// AdaptationSet (ffmpeg's DASH demuxer gives every packet of a muxed
// Representation to one stream; dash.js refuses muxed Representations),
// so the MPD references the per-track fragments the packager writes with
// each part (same samples, same timing, the same sample bytes; see
// packager.Part.Fragment). The muxed files are served too, byte-identical
// to HLS's.
package dashserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/netutil"
	"github.com/sluicemedia/sluice/internal/packager"
)

// Content types (ISO/IEC 23009-1 Annex C; ISO BMFF).
const (
	contentTypeMPD = "application/dash+xml"
	contentTypeMP4 = "video/mp4"
)

// Server answers GET and HEAD requests for /APP/NAME.mpd and the files
// under /APP/NAME/dash/. Fill the exported fields and route requests to
// ServeMPD and ServeFile.
type Server struct {
	// Packagers starts and finds the stream packagers; share HLS's
	// manager so both serve one packager's bytes.
	Packagers *packager.Manager
	// ReadyTimeout bounds how long an MPD request waits for the stream's
	// first complete segment. Default 10 s.
	ReadyTimeout time.Duration
	// MinimumUpdatePeriod is the MPD's minimumUpdatePeriod: how often
	// clients refetch it. Default 1 s.
	MinimumUpdatePeriod time.Duration
	// Logger receives request logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock (publishTime, the time endpoint). Default
	// time.Now.
	Now func() time.Time
	// Ladder, if set, returns the ABR ladder of a source path (nil
	// without one): its MPD then lists every rendition as a video
	// Representation.
	Ladder func(path string) *Ladder
	// Transcoder, if set, starts on-demand ladders on an MPD request and
	// is told of every request for a ladder's streams.
	Transcoder Transcoder
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, path string, status int, msg string) {
	w.Header().Set("Cache-Control", "no-cache")
	lvl := slog.LevelDebug
	if status >= 500 || status == http.StatusUnsupportedMediaType {
		lvl = slog.LevelWarn
	}
	s.logger().Log(r.Context(), lvl, "dash request failed", "proto", "dash", "remote", r.RemoteAddr,
		"path", path, "url", r.URL.String(), "status", status, "reason", msg)
	http.Error(w, msg, status)
}

// allow checks the method; false means answered. (The caller, the stream
// router of internal/app, has set the CORS headers and authorized MPD and
// time requests; media files need no credential, their names hold the
// packager session's random 128-bit ID, learned only from an MPD.)
func allow(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	return true
}

// blockTimeout bounds a wait for media: three target durations.
func blockTimeout(target time.Duration) time.Duration {
	if target <= 0 {
		target = 2 * time.Second
	}
	return 3 * target
}

// ServeMPD serves the MPD of the stream at path (already validated, e.g.
// "live/cam1"), starting its packager if needed.
func (s *Server) ServeMPD(w http.ResponseWriter, r *http.Request, path string) {
	if !allow(w, r) {
		return
	}
	l := s.ladderOf(path)
	if l != nil && s.Transcoder != nil {
		s.Transcoder.Ensure(path)
	}
	s.touch(path)
	p, release, err := s.Packagers.Acquire(r.Context(), path, packager.FormatFMP4)
	if err != nil {
		switch {
		case errors.Is(err, hub.ErrNotFound), errors.Is(err, hub.ErrNotReady), errors.Is(err, hub.ErrEnded):
			s.fail(w, r, path, http.StatusNotFound, "stream "+path+" is not published")
		case errors.Is(err, packager.ErrUnsupportedCodec):
			s.fail(w, r, path, http.StatusUnsupportedMediaType, "dash: "+err.Error())
		case r.Context().Err() != nil:
		default:
			s.fail(w, r, path, http.StatusServiceUnavailable, err.Error())
		}
		return
	}
	defer release()
	readyTimeout := s.ReadyTimeout
	if readyTimeout <= 0 {
		readyTimeout = 10 * time.Second
	}
	// Like HLS: the first MPD waits for a complete segment (the GOP cache
	// makes that at most one GOP), so every client finds media in it.
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	// A ladder's renditions are awaited alongside the source.
	var rends []rendition
	var wg sync.WaitGroup
	if l != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The snapshots are taken: the packagers may go (they idle on).
			var rel func()
			rends, rel = s.acquireRenditions(ctx, path, l)
			rel()
		}()
	}
	ready := p.WaitReady(ctx, false)
	wg.Wait()
	cancel()
	snap := p.Snapshot()
	if !ready && len(snap.Segments) == 0 {
		if snap.Ended {
			s.fail(w, r, path, http.StatusNotFound, "stream "+path+" ended")
		} else if r.Context().Err() == nil {
			s.fail(w, r, path, http.StatusServiceUnavailable, "no media from stream "+path+" yet")
		}
		return
	}
	mup := s.MinimumUpdatePeriod
	if mup <= 0 {
		mup = time.Second
	}
	o := mpdOptions{
		prefix:              mediaPrefix(path),
		utcURL:              timeURL(r, path),
		now:                 s.now(),
		minimumUpdatePeriod: mup,
		frameRate:           func(in *packager.Init) string { return frameRate(snap, in) },
		trackBytes:          trackBytes,
	}
	m := buildMPD(snap, o)
	if l != nil {
		addRenditions(m, l.Passthrough, rends, o)
	}
	body, err := m.Marshal()
	if err != nil {
		s.fail(w, r, path, http.StatusInternalServerError, "dash: marshal MPD: "+err.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeMPD)
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// mediaPrefix is the media URL prefix relative to the MPD /APP/NAME.mpd:
// "NAME/dash/".
func mediaPrefix(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:] + "/dash/"
}

// timeURL is the absolute URL of path's time endpoint as the client
// reached us (UTCTiming values are not resolved against the MPD URL by
// every client), with the MPD request's credential (auth.PassOnQuery).
func timeURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/" + path + "/dash/" + timeFile + auth.PassOnQuery(r)
}

// ServeFile serves a file under /APP/NAME/dash/ of the stream at path
// (already validated): an init section, a media segment or the time
// endpoint (see names.go). Media is served only while the stream's
// packager runs (an MPD request starts it).
func (s *Server) ServeFile(w http.ResponseWriter, r *http.Request, path, file string) {
	if !allow(w, r) {
		return
	}
	if file == timeFile {
		// ISO/IEC 23009-1 §5.8.5.7 urn:mpeg:dash:utc:http-iso:2014.
		body := xsDateTime(s.now())
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(body))
		}
		return
	}
	f, ok := parseMediaFile(file)
	if !ok {
		s.fail(w, r, path, http.StatusNotFound, "no such DASH file")
		return
	}
	p, release := s.Packagers.Lookup(path, packager.FormatFMP4)
	if p == nil {
		s.fail(w, r, path, http.StatusNotFound, "stream "+path+" is not being packaged (request the MPD first)")
		return
	}
	defer release()
	if p.SessionID() != f.sid {
		s.fail(w, r, path, http.StatusNotFound, "unknown DASH session")
		return
	}
	// Only a client of the session keeps an on-demand ladder running.
	s.touch(path)
	switch f.kind {
	case fileInit:
		in := p.Init(int(f.num))
		if in == nil {
			s.fail(w, r, path, http.StatusNotFound, "no such init section")
			return
		}
		data := in.Data
		if f.track != 0 {
			if data = in.TrackData(f.track); data == nil {
				s.fail(w, r, path, http.StatusNotFound, "no such track")
				return
			}
		}
		netutil.WriteMedia(w, r, contentTypeMP4, data)
	case fileSegmentAt:
		snap := p.Snapshot()
		msn, ok := segmentAt(snap, f.num, f.epoch)
		var shift time.Duration
		if !ok {
			var match func(*packager.Segment) (bool, time.Duration)
			if msn, match, ok = nextSegmentAt(snap, f.num, f.epoch); ok {
				// The segment after the newest, addressed from the
				// timeline's open end: wait for it, then check it starts
				// where the client expects it.
				ctx, cancel := context.WithTimeout(r.Context(), blockTimeout(snap.TargetDuration))
				p.WaitGrowth(ctx, msn, 0)
				cancel()
				seg, found := p.Segment(msn)
				ok = found
				if found {
					ok, shift = match(&seg)
				}
			}
		}
		if !ok {
			if r.Context().Err() == nil {
				s.fail(w, r, path, http.StatusNotFound, "no segment at that time")
			}
			return
		}
		f.kind, f.num = fileSegment, msn
		s.serveSegment(w, r, path, p, f, shift)
	case fileSegment:
		s.serveSegment(w, r, path, p, f, 0)
	}
}

// serveSegment serves segment msn: at once when complete; else (the
// segment being written, or the next one) part by part as the packager
// publishes them, with chunked transfer (ISO/IEC 23009-1 §5.3.9.5.3,
// availabilityTimeComplete="false"). A track segment's decode times are
// advanced by shift (a stale client's request across a republish, see
// stale.go).
func (s *Server) serveSegment(w http.ResponseWriter, r *http.Request, path string, p *packager.Packager, f mediaFile, shift time.Duration) {
	msn := f.num
	var delta uint64
	data := func(parts []*packager.Part) [][]byte {
		if f.track == 0 {
			return partData(parts)
		}
		if delta > 0 {
			return shiftedTrackSegment(parts, f.track, delta)
		}
		return trackSegment(parts, f.track)
	}
	snap := p.Snapshot()
	timeout := blockTimeout(snap.TargetDuration)
	seg, ok := p.Segment(msn)
	if !ok {
		// Only the segment after the newest one may be waited for.
		n := len(snap.Segments)
		if snap.Ended || n == 0 || msn != snap.Segments[n-1].MSN+1 {
			s.fail(w, r, path, http.StatusNotFound, "no such segment")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		p.WaitGrowth(ctx, msn, 0)
		cancel()
		if seg, ok = p.Segment(msn); !ok || len(seg.Parts) == 0 {
			if r.Context().Err() == nil {
				s.fail(w, r, path, http.StatusNotFound, "no such segment")
			}
			return
		}
	}
	if shift > 0 && seg.Init != nil && f.track != 0 {
		delta = ticks(shift, trackTimescale(seg.Init, f.track))
	}
	if seg.Complete {
		netutil.WriteMedia(w, r, contentTypeMP4, data(seg.Parts)...)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeMP4)
	// A complete chunked answer is the whole, immutable segment; an
	// interrupted one is aborted (no terminating chunk), so no cache keeps
	// it.
	h.Set("Cache-Control", "public, max-age=86400, immutable")
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	sent := 0
	for {
		if sent < len(seg.Parts) {
			bufs := net.Buffers(data(seg.Parts[sent:]))
			if _, err := bufs.WriteTo(w); err != nil {
				return
			}
			sent = len(seg.Parts)
			if err := rc.Flush(); err != nil {
				return
			}
		}
		if seg.Complete {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		p.WaitGrowth(ctx, msn, sent)
		cancel()
		if r.Context().Err() != nil {
			return
		}
		next, ok := p.Segment(msn)
		if !ok || (!next.Complete && len(next.Parts) == sent) {
			// Stalled, or gone: never let a truncated segment look whole.
			s.logger().Debug("dash segment stream aborted", "proto", "dash", "remote", r.RemoteAddr,
				"path", path, "msn", msn)
			panic(http.ErrAbortHandler)
		}
		seg = next
	}
}

// segmentAt returns the MSN of the listed segment starting at MPD time t
// (SegmentTimeline ticks of its period; see buildMPD) in the Period key
// (periodKey) the client addressed.
func segmentAt(snap *packager.Snapshot, t uint64, key int64) (uint64, bool) {
	for i := len(snap.Segments) - 1; i >= 0; i-- {
		seg := &snap.Segments[i]
		if seg.Init != nil && ticks(seg.Start, timescaleOf(seg.Init)) == t && periodKey(seg) == key {
			return seg.MSN, true
		}
	}
	return 0, false
}

// nextSegmentAt maps MPD time t of Period key onto the segment after the
// newest one, which the timeline's open end (@r="-1", see openTimeline)
// addresses at the newest segment's start plus its announced duration.
// Segments follow the publisher's GOPs, so the real start may differ from
// that prediction by frame-timestamp jitter or a longer GOP: match reports
// whether the segment, once it exists, starts less than half a segment
// from t and in the same Period; otherwise the client is answered 404 and
// finds the real time in its next MPD. The one exception is a Period
// ended by a republish that moved the wall clock (stale.go): its open end
// addresses the new clock's first segment, which match accepts with the
// shift that places it right through the old Period.
func nextSegmentAt(snap *packager.Snapshot, t uint64, key int64) (uint64, func(*packager.Segment) (bool, time.Duration), bool) {
	n := len(snap.Segments)
	if snap.Ended || n == 0 {
		return 0, nil, false
	}
	last := &snap.Segments[n-1]
	if last.Init == nil {
		return 0, nil, false
	}
	target := snap.TargetDuration
	if target <= 0 {
		target = 2 * time.Second
	}
	ts := timescaleOf(last.Init)
	exp := expectedDuration(snap.Segments, n-1, target)
	tol := ticks(exp/2, ts)
	within := func(start time.Duration) bool {
		a := ticks(start, ts)
		return max(a, t)-min(a, t) < tol
	}
	// stale: seg opens a new clock's Period right after from, the last
	// segment of the client's, and t is what that Period's open end could
	// have announced after from (its announced duration is about a target
	// duration, from was cut short by the republish).
	stale := func(from, seg *packager.Segment) (time.Duration, bool) {
		if periodKey(from) != key || periodKey(seg) == key || seg.Init != from.Init || !seg.Discontinuity {
			return 0, false
		}
		if t <= ticks(from.Start, ts) || t > ticks(from.Start+target+target/2, ts) {
			return 0, false
		}
		d, _ := clockShift(from, seg)
		return d, true
	}
	for i := n - 1; i >= 1; i-- {
		if d, ok := stale(&snap.Segments[i-1], &snap.Segments[i]); ok {
			msn := snap.Segments[i].MSN
			return msn, func(*packager.Segment) (bool, time.Duration) { return true, d }, true
		}
	}
	if periodKey(last) != key {
		return 0, nil, false // the client's Period is over
	}
	// A client whose MPD is older than the newest segment predicted it
	// from an older open end.
	for i := n - 1; i >= 0 && i >= n-2; i-- {
		if seg := &snap.Segments[i]; seg.Init == last.Init && periodKey(seg) == key && within(seg.Start) {
			return seg.MSN, func(*packager.Segment) (bool, time.Duration) { return true, 0 }, true
		}
	}
	if t <= ticks(last.Start, ts) || !within(last.Start+exp) {
		return 0, nil, false
	}
	from := *last
	return last.MSN + 1, func(seg *packager.Segment) (bool, time.Duration) {
		if seg.Init == from.Init && periodKey(seg) == key {
			return within(seg.Start), 0
		}
		d, ok := stale(&from, seg)
		return ok, d
	}, true
}

func partData(parts []*packager.Part) [][]byte {
	bufs := make([][]byte, len(parts))
	for i, pt := range parts {
		bufs[i] = pt.Data
	}
	return bufs
}
