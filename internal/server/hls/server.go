// Package hlsserver serves HLS from the packager's in-memory window: media
// playlists (RFC 8216bis §4.4) for three variants — lowlatency (fMP4/CMAF
// with LL-HLS parts, blocking playlist reload, preload hints and delta
// updates), fmp4 and mpegts — and the init sections, segments and parts
// themselves, from memory.
//
// One stream is one rendition. A source stream with an adaptive-bitrate
// ladder gets a multivariant playlist (RFC 8216bis §4.4.6) listing the
// media playlists of its renditions (multivariant.go), whose LL-HLS media
// playlists carry rendition reports of each other (§4.4.5.4).
//
// URLs, relative to the HTTP root, for the stream APP/NAME:
//
//	/APP/NAME.m3u8              media playlist; multivariant if APP/NAME has a ladder
//	/APP/NAME/hls/media.m3u8    media playlist, always
//	/APP/NAME/hls/FILE          init sections, segments, parts (names.go)
package hlsserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/netutil"
	"github.com/sluicemedia/sluice/internal/packager"
)

// HLS variants (config hls.variant).
const (
	VariantLowLatency = "lowlatency"
	VariantFMP4       = "fmp4"
	VariantMPEGTS     = "mpegts"
)

// Content types (RFC 8216bis §4; ISO BMFF; MPEG-2 TS).
const (
	contentTypePlaylist = "application/vnd.apple.mpegurl"
	contentTypeMP4      = "video/mp4"
	contentTypeTS       = "video/mp2t"
)

// Server answers GET and HEAD requests for /APP/NAME.m3u8 and the media
// URLs under /APP/NAME/hls/. Fill the exported fields and route requests
// to ServeStream.
type Server struct {
	// Packagers starts and finds the stream packagers.
	Packagers *packager.Manager
	// Variant is lowlatency (default), fmp4 or mpegts.
	Variant string
	// ReadyTimeout bounds how long a playlist request waits for the
	// stream's first complete segment, and a multivariant playlist request
	// for its renditions'. Default 10 s.
	ReadyTimeout time.Duration
	// Ladder returns the ABR ladder of a source stream path, nil if it has
	// none. Default nil: no multivariant playlists.
	Ladder func(path string) *Ladder
	// Transcoder, if set, starts on-demand ladders on the first
	// multivariant playlist request and is told of every request for a
	// ladder's streams, to keep them running.
	Transcoder Transcoder
	// MPEGTSUserAgents are substrings of User-Agent headers whose clients
	// get MPEG-TS media playlists and segments whatever Variant is (see
	// formatFor). Default nil: none.
	MPEGTSUserAgents []string
	// Logger receives request logs. Default slog.Default().
	Logger *slog.Logger
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) lowLatency() bool {
	return s.Variant == "" || s.Variant == VariantLowLatency
}

func (s *Server) format() packager.Format {
	if s.Variant == VariantMPEGTS {
		return packager.FormatMPEGTS
	}
	return packager.FormatFMP4
}

// classicClient reports whether r comes from a client named in
// MPEGTSUserAgents: a player without LL-HLS that gets MPEG-TS media
// playlists whatever the variant, each at least startWindow long (see
// servePlaylist). GStreamer's classic hlsdemux (decodebin and playbin,
// GStreamer ≤ 1.22's default) needs the format: it starts the
// first fMP4 segment it loads at stream time 0 while qtdemux stamps the
// samples with their baseMediaDecodeTime, so playback waited as long as
// the packager had run before the window's first segment. Its MPEG-TS
// path rebases on the PCR and plays at once. RFC 8216bis leaves the
// segment format to the server; each format has its own packager and
// session, so other clients are not affected.
func (s *Server) classicClient(r *http.Request) bool {
	if ua := r.Header.Get("User-Agent"); ua != "" {
		for _, sub := range s.MPEGTSUserAgents {
			if sub != "" && strings.Contains(ua, sub) {
				return true
			}
		}
	}
	return false
}

// formatFor is the segment format of the media playlist r gets.
func (s *Server) formatFor(r *http.Request) packager.Format {
	if s.classicClient(r) {
		return packager.FormatMPEGTS
	}
	return s.format()
}

// startWindow is the least media a classic client's playlist lists. A
// packager started by this request lists one segment, from which VLC
// started and underran at every segment. RFC 8216bis §6.3.3 has clients
// start at least three target durations from the end; VLC 3 plays its
// first seconds faster than real time while its clock settles, so with
// three it still underran now and then (1 rebuffer in 3 runs) when a
// segment came just after its reload: one target duration more.
func startWindow(target time.Duration) time.Duration { return 4 * target }

// waitStartWindow waits until p's window lists startWindow of complete
// segments, the stream ends or ctx is done, and returns the last snapshot.
func waitStartWindow(ctx context.Context, p *packager.Packager, snap *packager.Snapshot) *packager.Snapshot {
	for !snap.Ended {
		var total time.Duration
		var last uint64
		for _, sg := range snap.Segments {
			if sg.Complete {
				total += sg.Duration
				last = sg.MSN
			}
		}
		if total >= startWindow(snap.TargetDuration) || !p.WaitSegment(ctx, last+1) {
			break
		}
		snap = p.Snapshot()
	}
	return snap
}

// ServeStream serves the stream at path (already validated, e.g.
// "live/cam1"): for file "" (/APP/NAME.m3u8) its multivariant playlist if
// it has a ladder, else its media playlist; for file "media.m3u8" its
// media playlist; else the media file named file (see names.go). The
// caller has authorized playlist requests and set the CORS headers (the
// stream router of internal/app); media files need no credential, their
// names hold the packager session's random 128-bit ID, learned only from
// a playlist.
func (s *Server) ServeStream(w http.ResponseWriter, r *http.Request, path, file string) {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch file {
	case "":
		s.touch(path)
		if l := s.ladderOf(path); l != nil {
			s.serveMultivariant(w, r, path, l)
			return
		}
		s.servePlaylist(w, r, path, false)
	case mediaPlaylistFile:
		s.touch(path)
		s.servePlaylist(w, r, path, true)
	default:
		s.serveMedia(w, r, path, file)
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, path string, status int, msg string) {
	w.Header().Set("Cache-Control", "no-cache")
	lvl := slog.LevelDebug
	if status >= 500 || status == http.StatusUnsupportedMediaType {
		lvl = slog.LevelWarn
	}
	s.logger().Log(r.Context(), lvl, "hls request failed", "proto", "hls", "remote", r.RemoteAddr,
		"path", path, "url", r.URL.String(), "status", status, "reason", msg)
	http.Error(w, msg, status)
}

// blockTimeout bounds a blocking request: RFC 8216bis §6.2.5.2 expects an
// answer within three target durations.
func blockTimeout(target time.Duration) time.Duration {
	if target <= 0 {
		target = 2 * time.Second
	}
	return 3 * target
}

// servePlaylist serves the media playlist of path, requested as
// /APP/NAME/hls/media.m3u8 (inHLSDir) or /APP/NAME.m3u8.
func (s *Server) servePlaylist(w http.ResponseWriter, r *http.Request, path string, inHLSDir bool) {
	classic := s.classicClient(r)
	f := s.formatFor(r)
	ll := s.lowLatency() && f == packager.FormatFMP4
	var d Directives
	if ll {
		var err error
		if d, err = ParseDirectives(r.URL.RawQuery); err != nil {
			s.fail(w, r, path, http.StatusBadRequest, err.Error())
			return
		}
	}
	var p *packager.Packager
	var release func()
	var err error
	if src, _, ok := s.renditionOf(path); ok && s.Transcoder != nil && s.Transcoder.Ensure(src) {
		// A rendition of an on-demand ladder: its stream appears once
		// ffmpeg's first output comes.
		ctx, cancel := context.WithTimeout(r.Context(), s.readyTimeout())
		p, release, err = s.acquireWait(ctx, path, f)
		cancel()
	} else {
		p, release, err = s.Packagers.Acquire(r.Context(), path, f)
	}
	if classic && f != s.format() && errors.Is(err, packager.ErrUnsupportedCodec) {
		// A codec MPEG-TS cannot carry (AV1, Opus): the variant's own
		// playlist, which the player may still play.
		f, ll = s.format(), s.lowLatency()
		p, release, err = s.Packagers.Acquire(r.Context(), path, f)
	}
	if err != nil {
		switch {
		case errors.Is(err, hub.ErrNotFound), errors.Is(err, hub.ErrNotReady), errors.Is(err, hub.ErrEnded):
			s.fail(w, r, path, http.StatusNotFound, "stream "+path+" is not published")
		case errors.Is(err, packager.ErrUnsupportedCodec):
			s.fail(w, r, path, http.StatusUnsupportedMediaType, "hls "+formatName(f, ll)+": "+err.Error())
		case r.Context().Err() != nil:
		default:
			s.fail(w, r, path, http.StatusServiceUnavailable, err.Error())
		}
		return
	}
	defer release()

	ctx, cancel := context.WithTimeout(r.Context(), s.readyTimeout())
	// Even in low-latency mode the first playlist waits for a complete
	// segment: players without LL-HLS support (ffmpeg) see no media in a
	// playlist of parts only, and the GOP cache makes this at most one GOP.
	ready := p.WaitReady(ctx, false)
	snap := p.Snapshot()
	if ready && classic {
		snap = waitStartWindow(ctx, p, snap)
	}
	cancel()
	if !ready && len(snap.Segments) == 0 {
		if snap.Ended {
			s.fail(w, r, path, http.StatusNotFound, "stream "+path+" ended")
		} else {
			s.fail(w, r, path, http.StatusServiceUnavailable, "no media from stream "+path+" yet")
		}
		return
	}

	if ll && d.HasMSN {
		// RFC 8216bis §6.2.5.2: blocking playlist reload.
		next, nextIdx := nextPart(snap)
		if d.MSN > next+1 || (d.MSN == next+1 && d.HasPart && d.Part > 3*partsPerSegment(snap)) ||
			(d.MSN == next && d.HasPart && d.Part > uint64(nextIdx)+3*partsPerSegment(snap)) {
			s.fail(w, r, path, http.StatusBadRequest, "hls: _HLS_msn/_HLS_part too far ahead of the live edge")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), blockTimeout(snap.TargetDuration))
		var ok bool
		if d.HasPart {
			ok = p.WaitPart(ctx, d.MSN, int(d.Part))
		} else {
			ok = p.WaitSegment(ctx, d.MSN)
		}
		cancel()
		if r.Context().Err() != nil {
			return
		}
		snap = p.Snapshot()
		if !ok && !snap.Ended {
			s.fail(w, r, path, http.StatusServiceUnavailable, "hls: blocking reload timed out")
			return
		}
	}

	o := playlistOptions{lowLatency: ll, skip: d.Skip != "", prefix: mediaPrefix(path)}
	dir := "" // from the playlist's directory to /APP/
	if inHLSDir {
		o.prefix, dir = "", "../../"
	}
	if ll && !snap.Ended {
		o.reports = s.reports(path, dir)
		for i := range o.reports {
			o.reports[i].uri += auth.PassOnQuery(r)
		}
	}
	var body []byte
	if len(o.reports) == 0 {
		// Every viewer of this window state gets the same bytes: render
		// once (LL-HLS viewers reload ~5 times a second each).
		key := o.prefix + "|" + strconv.FormatBool(o.lowLatency) + strconv.FormatBool(o.skip)
		body = snap.Memo(key, func() []byte { return renderPlaylist(snap, o) })
	} else {
		body = renderPlaylist(snap, o) // rendition reports read other windows
	}
	h := w.Header()
	h.Set("Content-Type", contentTypePlaylist)
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// formatName names the flavour a playlist of format f is served in.
func formatName(f packager.Format, ll bool) string {
	switch {
	case f == packager.FormatMPEGTS:
		return VariantMPEGTS
	case ll:
		return VariantLowLatency
	}
	return VariantFMP4
}

func (s *Server) variantName() string {
	if s.Variant == "" {
		return VariantLowLatency
	}
	return s.Variant
}

// partsPerSegment estimates how many parts a segment holds.
func partsPerSegment(snap *packager.Snapshot) uint64 {
	if snap.PartTarget <= 0 {
		return 10
	}
	return uint64(max(1, snap.TargetDuration/snap.PartTarget))
}

// mediaPrefix is the media URL prefix relative to the playlist
// /APP/NAME.m3u8: "NAME/hls/".
func mediaPrefix(path string) string {
	name := path[strings.LastIndexByte(path, '/')+1:]
	return name + "/hls/"
}

func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request, path, file string) {
	f, ok := parseMediaFile(file)
	if !ok {
		s.fail(w, r, path, http.StatusNotFound, "no such HLS file")
		return
	}
	// A TS file is served by the MPEG-TS packager, which runs for the
	// mpegts variant or for clients of MPEGTSUserAgents; fMP4 files by the
	// fMP4 one, which runs for the other variants.
	format := packager.FormatFMP4
	if f.kind == fileTS {
		format = packager.FormatMPEGTS
	}
	if format != s.format() && (format == packager.FormatFMP4 || len(s.MPEGTSUserAgents) == 0) {
		s.fail(w, r, path, http.StatusNotFound, "no such HLS file for variant "+s.variantName())
		return
	}
	p, release := s.Packagers.Lookup(path, format)
	if p == nil {
		s.fail(w, r, path, http.StatusNotFound, "stream "+path+" is not being packaged (request the playlist first)")
		return
	}
	defer release()
	if p.SessionID() != f.sid {
		s.fail(w, r, path, http.StatusNotFound, "unknown HLS session")
		return
	}
	// Only a client of the session keeps an on-demand ladder running.
	s.touch(path)
	snap := p.Snapshot()
	next, nextIdx := nextPart(snap)
	switch f.kind {
	case fileInit:
		in := p.Init(int(f.msn))
		if in == nil {
			s.fail(w, r, path, http.StatusNotFound, "no such init section")
			return
		}
		netutil.WriteMedia(w, r, contentTypeMP4, in.Data)
	case filePart:
		part := p.Part(f.msn, f.index)
		if part == nil && !snap.Ended && (f.msn == next && f.index <= nextIdx+1 || f.msn == next+1 && f.index == 0) {
			// RFC 8216bis §6.2.6: a request for a hinted part blocks
			// until the part is available.
			ctx, cancel := context.WithTimeout(r.Context(), blockTimeout(snap.TargetDuration))
			p.WaitPart(ctx, f.msn, f.index)
			cancel()
			part = p.Part(f.msn, f.index)
		}
		if part == nil {
			s.fail(w, r, path, http.StatusNotFound, "no such part")
			return
		}
		netutil.WriteMedia(w, r, contentTypeMP4, part.Data)
	case fileSegment, fileTS:
		seg, ok := p.Segment(f.msn)
		if (!ok && f.msn == next && !snap.Ended) || (ok && !seg.Complete) {
			ctx, cancel := context.WithTimeout(r.Context(), blockTimeout(snap.TargetDuration))
			p.WaitSegment(ctx, f.msn)
			cancel()
			seg, ok = p.Segment(f.msn)
		}
		if !ok || !seg.Complete || seg.Gap {
			s.fail(w, r, path, http.StatusNotFound, "no such segment")
			return
		}
		if format == packager.FormatMPEGTS {
			netutil.WriteMedia(w, r, contentTypeTS, seg.TS)
			return
		}
		bufs := make([][]byte, len(seg.Parts))
		for i, pt := range seg.Parts {
			bufs[i] = pt.Data
		}
		netutil.WriteMedia(w, r, contentTypeMP4, bufs...)
	}
}
