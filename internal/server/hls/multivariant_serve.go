package hlsserver

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/packager"
)

// ladderOf returns the ladder whose source is path, or nil. A rendition
// is never a source, even where a glob pattern gives it a ladder too.
func (s *Server) ladderOf(path string) *Ladder {
	if s.Ladder == nil {
		return nil
	}
	if _, _, ok := s.renditionOf(path); ok {
		return nil
	}
	l := s.Ladder(path)
	if l == nil || len(l.Rungs) == 0 {
		return nil
	}
	return l
}

// renditionOf reports whether path is rung R of a source SOURCE with a
// ladder: path is SOURCE_R.
func (s *Server) renditionOf(path string) (source string, l *Ladder, ok bool) {
	if s.Ladder == nil {
		return "", nil, false
	}
	slash := strings.LastIndexByte(path, '/')
	for i := len(path) - 1; i > slash+1; i-- {
		if path[i] != '_' {
			continue
		}
		src, name := path[:i], path[i+1:]
		l := s.Ladder(src)
		if l == nil {
			continue
		}
		for _, r := range l.Rungs {
			if r.Name == name {
				return src, l, true
			}
		}
	}
	return "", nil, false
}

// group returns the variants of the ladder path belongs to (as source or
// rendition), or nil.
func (s *Server) group(path string) []member {
	if src, l, ok := s.renditionOf(path); ok {
		return members(src, l)
	}
	if l := s.ladderOf(path); l != nil {
		return members(path, l)
	}
	return nil
}

// touch tells the transcoder path is in use.
func (s *Server) touch(path string) {
	if s.Transcoder != nil {
		s.Transcoder.Touch(path)
	}
}

func (s *Server) readyTimeout() time.Duration {
	if s.ReadyTimeout > 0 {
		return s.ReadyTimeout
	}
	return 10 * time.Second
}

// acquireWait is Packagers.Acquire that, for a rendition whose ladder is
// starting, retries until its stream exists or ctx ends.
func (s *Server) acquireWait(ctx context.Context, path string, f packager.Format) (*packager.Packager, func(), error) {
	for {
		p, release, err := s.Packagers.Acquire(ctx, path, f)
		if err == nil || !(errors.Is(err, hub.ErrNotFound) || errors.Is(err, hub.ErrNotReady)) {
			return p, release, err
		}
		s.touch(path)
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// serveMultivariant answers /APP/NAME.m3u8 for a source with a ladder: a
// multivariant playlist (RFC 8216bis §4.4.6). It starts the ladder if it
// is on demand and waits, up to ReadyTimeout, for every variant's first
// complete segment, so that BANDWIDTH, RESOLUTION, FRAME-RATE and CODECS
// describe real media; a variant still missing then is listed from its
// configuration.
func (s *Server) serveMultivariant(w http.ResponseWriter, r *http.Request, source string, l *Ladder) {
	if s.Transcoder != nil {
		s.Transcoder.Ensure(source)
	}
	if s.Packagers.Hub.Stream(source) == nil {
		s.fail(w, r, source, http.StatusNotFound, "stream "+source+" is not published")
		return
	}
	ms := members(source, l)
	ctx, cancel := context.WithTimeout(r.Context(), s.readyTimeout())
	defer cancel()
	vs := make([]variant, len(ms))
	ok := make([]bool, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vs[i], ok[i] = s.measure(ctx, m)
		}()
	}
	wg.Wait()
	if r.Context().Err() != nil {
		return
	}
	var out []variant
	for i, m := range ms {
		switch {
		case ok[i]:
			out = append(out, vs[i])
		case m.rung != nil:
			s.logger().Warn("hls: rendition not ready, listed from its configuration", "proto", "hls",
				"path", m.path, "remote", r.RemoteAddr)
			out = append(out, fallbackVariant(m))
		}
	}
	if len(out) == 0 {
		s.fail(w, r, source, http.StatusServiceUnavailable, "no media from stream "+source+" yet")
		return
	}
	// The media playlists get the credential of this request: players
	// resolve their URIs without this playlist's query.
	for i := range out {
		out[i].uri += auth.PassOnQuery(r)
	}
	body := renderMultivariant(out)
	h := w.Header()
	h.Set("Content-Type", contentTypePlaylist)
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// measure describes member m from its packager (started if needed) once it
// has a complete segment; ok is false if none came before ctx ended.
func (s *Server) measure(ctx context.Context, m member) (variant, bool) {
	p, release, err := s.acquireWait(ctx, m.path, s.format())
	if err != nil {
		if ctx.Err() == nil {
			s.logger().Debug("hls: variant unavailable", "path", m.path, "reason", err.Error())
		}
		return variant{}, false
	}
	defer release()
	if !p.WaitReady(ctx, false) {
		return variant{}, false
	}
	st := s.Packagers.Hub.Stream(m.path)
	if st == nil {
		return variant{}, false
	}
	snap := p.Snapshot()
	video, audio := st.Tracks()
	if in := latestInit(snap); in != nil {
		// fMP4: the audio the packager's init section describes (e.g. the
		// Opus derived from an MP3 publisher, see packager.Manager).
		audio = nil
		for _, t := range in.Tracks {
			if t.Kind() == av.KindAudio {
				audio = t
			}
		}
	} else if audio != nil && packager.SupportsTrack(s.format(), audio) != nil {
		// The packager carries the derived audio (AAC from Opus) instead.
		audio = st.Stats().DerivedAudio
	}
	return describe(m, snap, video, audio, s.format()), true
}

// latestInit returns the init section of snap's newest segment that has
// one (nil for MPEG-TS or before the first segment).
func latestInit(snap *packager.Snapshot) *packager.Init {
	for i := len(snap.Segments) - 1; i >= 0; i-- {
		if in := snap.Segments[i].Init; in != nil {
			return in
		}
	}
	return nil
}

// describe builds the EXT-X-STREAM-INF of member m from its packager's
// window and its stream's tracks.
func describe(m member, snap *packager.Snapshot, video, audio *av.Track, f packager.Format) variant {
	v := variant{uri: m.uri}
	for _, t := range []*av.Track{video, audio} {
		if t != nil && t.CodecString != "" && packager.SupportsTrack(f, t) == nil {
			v.codecs = append(v.codecs, packager.CodecsParam(f, t))
		}
	}
	if video != nil {
		v.width, v.height = video.Width, video.Height
	}
	// A rendition's first segment is ffmpeg's start-up (the source's
	// cached GOP arrives as a burst; rate control settles): it is left out
	// of the measures, and the configuration stands in until a second
	// segment is complete.
	v.bandwidth, v.average = segmentBitrates(snap, m.rung != nil)
	if v.bandwidth == 0 {
		fb := fallbackVariant(m)
		v.bandwidth, v.average = fb.bandwidth, fb.average
	}
	v.frameRate = frameRate(snap)
	if m.rung != nil && m.rung.MaxFPS > 0 && (v.frameRate == 0 || v.frameRate > float64(m.rung.MaxFPS)) {
		v.frameRate = float64(m.rung.MaxFPS)
	}
	return v
}

// segmentBitrates returns the peak and average bit rate of the complete
// segments in snap (RFC 8216bis §4.4.6.2 BANDWIDTH, AVERAGE-BANDWIDTH):
// every byte a client downloads for a segment, over its EXTINF duration.
// skipFirst leaves the oldest complete segment out (0, 0 if it is the
// only one).
func segmentBitrates(snap *packager.Snapshot, skipFirst bool) (peak, average int64) {
	var bytes int64
	var total time.Duration
	skip := skipFirst
	for i := range snap.Segments {
		seg := &snap.Segments[i]
		if !seg.Complete || seg.Duration <= 0 {
			continue
		}
		if skip {
			skip = false
			continue
		}
		n := int64(seg.Size())
		bytes += n
		total += seg.Duration
		peak = max(peak, int64(math.Ceil(float64(8*n)/seg.Duration.Seconds())))
	}
	if total > 0 {
		average = int64(math.Ceil(float64(8*bytes) / total.Seconds()))
	}
	return peak, average
}

// frameRate counts the video frames of the newest complete fMP4 segment
// over its duration (the packager counts each part's samples); 0 when
// unknown (MPEG-TS, no video). A rung's configured max_fps caps it (its
// first segment may hold more).
func frameRate(snap *packager.Snapshot) float64 {
	for i := len(snap.Segments) - 1; i >= 0; i-- {
		seg := &snap.Segments[i]
		if !seg.Complete || seg.Duration <= 0 || len(seg.Parts) == 0 {
			continue
		}
		frames := 0
		for _, part := range seg.Parts {
			frames += part.Samples(packager.TrackVideo)
		}
		if frames == 0 {
			return 0
		}
		return math.Round(float64(frames)/seg.Duration.Seconds()*1000) / 1000
	}
	return 0
}

// defaultAudioBitrate stands for copied audio of unknown bit rate.
const defaultAudioBitrate = 128_000

// fallbackVariant describes member m from its configuration alone.
func fallbackVariant(m member) variant {
	v := variant{uri: m.uri}
	if m.rung == nil {
		return v
	}
	ab := m.rung.AudioBitrate
	if ab == 0 {
		ab = defaultAudioBitrate
	}
	v.bandwidth = m.rung.VideoBitrate + ab
	v.average = v.bandwidth
	v.height = m.rung.Height
	if m.rung.Width > 0 {
		v.width = m.rung.Width
	}
	v.frameRate = float64(m.rung.MaxFPS)
	return v
}

// reports returns the EXT-X-RENDITION-REPORT tags (RFC 8216bis §4.4.5.4)
// of the media playlist of path, a member of a ladder: one per sibling
// rendition whose packager runs. dir is the prefix from the playlist's
// directory to /APP/.
func (s *Server) reports(path, dir string) []renditionReport {
	ms := s.group(path)
	if ms == nil {
		return nil
	}
	var out []renditionReport
	for _, m := range ms {
		if m.path == path {
			continue
		}
		p, release := s.Packagers.Lookup(m.path, s.format())
		if p == nil {
			continue
		}
		snap := p.Snapshot()
		release()
		if len(snap.Segments) == 0 || snap.Ended {
			continue
		}
		rep := renditionReport{uri: dir + m.uri, lastPart: -1}
		// §4.4.5.4: LAST-MSN and LAST-PART name the newest Partial
		// Segment; without parts, LAST-MSN is the newest Media Segment.
		found := false
		for i := len(snap.Segments) - 1; i >= 0 && !found; i-- {
			if n := len(snap.Segments[i].Parts); n > 0 {
				rep.lastMSN, rep.lastPart, found = snap.Segments[i].MSN, n-1, true
			}
		}
		if !found {
			rep.lastMSN = snap.Segments[len(snap.Segments)-1].MSN
		}
		out = append(out, rep)
	}
	return out
}
