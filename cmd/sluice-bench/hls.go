package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
)

// An HLS viewer is a real client, one goroutine, one request at a time:
//
//   - LL-HLS (the playlist has EXT-X-PART and CAN-BLOCK-RELOAD=YES, Sluice's
//     default): it starts at the newest independent part, fetches every
//     part in order, then for each new part GETs the preload-hinted part
//     (the server answers as soon as the part is complete) and reloads the
//     playlist with _HLS_msn/_HLS_part of the part it just got (a blocking
//     reload that is already satisfied) to learn the next hint. Without a
//     hint it blocks on _HLS_msn/_HLS_part of the next part.
//   - Classic HLS (nginx-rtmp, Sluice's fmp4/mpegts variants): it starts at
//     the newest segment, reloads the playlist every target duration / 2
//     and fetches each new segment.
//
// Media is parsed (fMP4 with mediacommon's fmp4, MPEG-TS with its mpegts
// reader) for the video samples' decode times; a frame counts as received
// when the response that carries it has been read completely. Bytes are
// the media samples' payload bytes, comparable with the published FLV
// payloads.

// hlsTimeout bounds one request; a blocking request waits up to three
// target durations on the server (RFC 8216bis §6.2.5.2).
const hlsTimeout = 20 * time.Second

// hlsPart is one EXT-X-PART.
type hlsPart struct {
	msn    uint64
	idx    int
	uri    string
	dur    time.Duration
	indep  bool
	mapURI string
}

// hlsSegment is one complete media segment.
type hlsSegment struct {
	msn    uint64
	uri    string
	dur    time.Duration
	mapURI string
}

// hlsPlaylist is the part of a media playlist the viewer uses.
type hlsPlaylist struct {
	targetDur time.Duration
	canBlock  bool
	segments  []hlsSegment
	parts     []hlsPart // every listed part, in order
	// The preload hint: the next part of the open segment.
	hintURI string
	hintMSN uint64
	hintIdx int
	ended   bool
}

// parse fills p from a media playlist, reusing its slices.
func (p *hlsPlaylist) parse(s string) error {
	*p = hlsPlaylist{segments: p.segments[:0], parts: p.parts[:0]}
	if !strings.HasPrefix(s, "#EXTM3U") {
		return fmt.Errorf("not a playlist")
	}
	var msn uint64
	var nparts int
	var mapURI string
	var extinf time.Duration
	for len(s) > 0 {
		var line string
		line, s, _ = strings.Cut(s, "\n")
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			p.targetDur = seconds(line[len("#EXT-X-TARGETDURATION:"):])
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			n, err := strconv.ParseUint(line[len("#EXT-X-MEDIA-SEQUENCE:"):], 10, 64)
			if err != nil {
				return fmt.Errorf("bad media sequence: %q", line)
			}
			msn = n
		case strings.HasPrefix(line, "#EXT-X-SERVER-CONTROL:"):
			p.canBlock = attr(line, "CAN-BLOCK-RELOAD") == "YES"
		case strings.HasPrefix(line, "#EXT-X-SKIP:"):
			n, _ := strconv.ParseUint(attr(line, "SKIPPED-SEGMENTS"), 10, 64)
			msn += n
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			mapURI = attr(line, "URI")
		case strings.HasPrefix(line, "#EXT-X-PART:"):
			p.parts = append(p.parts, hlsPart{msn: msn, idx: nparts, uri: attr(line, "URI"),
				dur: seconds(attr(line, "DURATION")), indep: attr(line, "INDEPENDENT") == "YES", mapURI: mapURI})
			nparts++
		case strings.HasPrefix(line, "#EXT-X-PRELOAD-HINT:"):
			if attr(line, "TYPE") == "PART" {
				p.hintURI = attr(line, "URI")
			}
		case strings.HasPrefix(line, "#EXTINF:"):
			d, _, _ := strings.Cut(line[len("#EXTINF:"):], ",")
			extinf = seconds(d)
		case line == "#EXT-X-ENDLIST":
			p.ended = true
		case line[0] == '#':
		default:
			p.segments = append(p.segments, hlsSegment{msn: msn, uri: line, dur: extinf, mapURI: mapURI})
			msn++
			nparts = 0
		}
	}
	p.hintMSN, p.hintIdx = msn, nparts
	if p.targetDur <= 0 {
		return fmt.Errorf("playlist without EXT-X-TARGETDURATION")
	}
	return nil
}

// seconds parses a decimal number of seconds.
func seconds(s string) time.Duration {
	f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return time.Duration(f * float64(time.Second))
}

// attr returns the value of key in an attribute list (quotes removed).
func attr(line, key string) string {
	_, l, ok := strings.Cut(line, ":")
	if !ok {
		return ""
	}
	for len(l) > 0 {
		name, rest, ok := strings.Cut(l, "=")
		if !ok {
			return ""
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return ""
			}
			val, rest = rest[1:1+end], rest[2+end:]
			_, rest, _ = strings.Cut(rest, ",")
		} else {
			val, rest, _ = strings.Cut(rest, ",")
		}
		if strings.TrimSpace(name) == key {
			return val
		}
		l = rest
	}
	return ""
}

// partKey orders parts: (MSN, part index).
type partKey struct {
	msn uint64
	idx int
}

func (a partKey) less(b partKey) bool {
	return a.msn < b.msn || a.msn == b.msn && a.idx < b.idx
}

// hlsViewer is the state of one HLS viewer.
type hlsViewer struct {
	v       *viewer
	base    *url.URL
	pl      hlsPlaylist
	buf     bytes.Buffer
	align   aligner
	mapURI  string // of the parsed init section
	videoID int
	audioID int
	vScale  uint32
	// prevDur is the media duration of the previous delivery, extraSlack
	// the poll interval of classic HLS (a new segment is seen up to that
	// late without any stall).
	prevDur, extraSlack time.Duration
	errs                int
}

func (v *viewer) playHLS(ctx context.Context) error {
	base, err := url.Parse(v.url)
	if err != nil {
		return err
	}
	h := &hlsViewer{v: v, base: base, align: aligner{ix: v.clip, sends: v.sends}}
	if err := h.reload(ctx, nil); err != nil {
		return err
	}
	v.connected.Store(true)
	format := "mpegts"
	if len(h.pl.segments) > 0 && h.pl.segments[0].mapURI != "" || len(h.pl.parts) > 0 {
		format = "fmp4"
	}
	if len(h.pl.parts) > 0 && h.pl.canBlock {
		v.hlsMode = "ll-hls " + format
		return h.runLL(ctx)
	}
	v.hlsMode = "hls " + format
	return h.runClassic(ctx)
}

// reload GETs the playlist; with at set, a blocking reload for that part.
func (h *hlsViewer) reload(ctx context.Context, at *partKey) error {
	u := h.v.url
	if at != nil {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "_HLS_msn=" + strconv.FormatUint(at.msn, 10) + "&_HLS_part=" + strconv.Itoa(at.idx)
	}
	if _, err := h.get(ctx, u); err != nil {
		return err
	}
	return h.pl.parse(h.buf.String())
}

// get fetches u into h.buf and returns when the body was read completely.
func (h *hlsViewer) get(ctx context.Context, u string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, hlsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := h.v.client.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	h.buf.Reset()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return time.Time{}, &httpError{url: u, status: resp.Status, code: resp.StatusCode}
	}
	if _, err := h.buf.ReadFrom(resp.Body); err != nil {
		return time.Time{}, err
	}
	return time.Now(), nil
}

type httpError struct {
	url, status string
	code        int
}

func (e *httpError) Error() string { return "GET " + e.url + ": " + e.status }

// resolve makes a playlist URI absolute.
func (h *hlsViewer) resolve(uri string) (string, error) {
	ref, err := url.Parse(uri)
	if err != nil {
		return "", err
	}
	return h.base.ResolveReference(ref).String(), nil
}

// fetchMedia GETs a part or segment (and its init section when it
// changed), parses it and accounts its frames.
func (h *hlsViewer) fetchMedia(ctx context.Context, uri, mapURI string, dur time.Duration) error {
	if mapURI != "" && mapURI != h.mapURI {
		if err := h.fetchInit(ctx, mapURI); err != nil {
			return err
		}
	}
	u, err := h.resolve(uri)
	if err != nil {
		return err
	}
	now, err := h.get(ctx, u)
	if err != nil {
		return err
	}
	slack := h.prevDur + h.extraSlack
	if mapURI != "" {
		err = h.onFMP4(h.buf.Bytes(), now, slack)
	} else {
		err = h.onTS(h.buf.Bytes(), now, slack)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", uri, err)
	}
	h.prevDur = dur
	h.v.mu.Lock()
	h.v.granularity = max(h.v.granularity, dur+h.extraSlack)
	h.v.mu.Unlock()
	return nil
}

func (h *hlsViewer) fetchInit(ctx context.Context, mapURI string) error {
	u, err := h.resolve(mapURI)
	if err != nil {
		return err
	}
	if _, err := h.get(ctx, u); err != nil {
		return err
	}
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(h.buf.Bytes())); err != nil {
		return fmt.Errorf("init %s: %w", mapURI, err)
	}
	h.videoID, h.audioID = 0, 0
	for _, t := range in.Tracks {
		switch t.Codec.(type) {
		case *fmp4.CodecH264:
			h.videoID, h.vScale = t.ID, t.TimeScale
		default:
			if t.Codec.IsVideo() {
				continue
			}
			h.audioID = t.ID
		}
	}
	if h.videoID == 0 {
		return fmt.Errorf("init %s: no H.264 track", mapURI)
	}
	h.mapURI = mapURI
	return nil
}

// ticksMS converts ticks of a timescale to milliseconds, rounded.
func ticksMS(t uint64, scale uint32) int64 {
	return int64((t*1000 + uint64(scale)/2) / uint64(scale))
}

// onFMP4 accounts the samples of fMP4 fragments (a part or a segment).
func (h *hlsViewer) onFMP4(data []byte, now time.Time, slack time.Duration) error {
	var parts fmp4.Parts
	if err := parts.Unmarshal(data); err != nil {
		return err
	}
	for _, p := range parts {
		for _, tr := range p.Tracks {
			video := tr.ID == h.videoID
			if !video && tr.ID != h.audioID {
				continue
			}
			dts := tr.BaseTime
			for _, s := range tr.Samples {
				if video {
					payload := s.Payload
					ts, ok := h.align.rtmpTS(ticksMS(dts, h.vScale), now, func() []byte { return firstVCLLengthPrefixed(payload, 4) })
					h.v.onMedia(true, len(s.Payload), ts, ok, now, slack)
				} else {
					h.v.onMedia(false, len(s.Payload), 0, false, now, slack)
				}
				dts += uint64(s.Duration)
			}
		}
	}
	return nil
}

// onTS accounts the frames of an MPEG-TS segment.
func (h *hlsViewer) onTS(data []byte, now time.Time, slack time.Duration) error {
	r := &mpegts.Reader{R: bytes.NewReader(data)}
	if err := r.Initialize(); err != nil {
		return err
	}
	r.OnDecodeError(func(error) {})
	video := false
	for _, t := range r.Tracks() {
		switch t.Codec.(type) {
		case *mpegts.CodecH264:
			video = true
			r.OnDataH264(t, func(_, dts int64, au [][]byte) error {
				n := 0
				for _, nalu := range au {
					n += len(nalu)
				}
				ts, ok := h.align.rtmpTS(ticksMS(uint64(dts), 90000), now, func() []byte { return firstVCL(au) })
				h.v.onMedia(true, n, ts, ok, now, slack)
				return nil
			})
		case *mpegts.CodecMPEG4Audio:
			r.OnDataMPEG4Audio(t, func(_ int64, aus [][]byte) error {
				for _, au := range aus {
					h.v.onMedia(false, len(au), 0, false, now, slack)
				}
				return nil
			})
		}
	}
	if !video {
		return fmt.Errorf("no H.264 track")
	}
	for {
		if err := r.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// retry counts a failed request and waits a little; too many in a row end
// the viewer.
func (h *hlsViewer) retry(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err() // the measurement ended during the request: not a failure
	}
	h.errs++
	if h.errs > 20 {
		return err
	}
	h.v.mu.Lock()
	if h.v.err == "" {
		h.v.err = err.Error() // reported, but the viewer stays connected
	}
	h.v.mu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(200 * time.Millisecond):
	}
	return nil
}

// startPart returns where an LL-HLS viewer starts: the newest independent
// part (the start of the newest segment, with keyframes on the segment
// grid), as near the live edge as a decoder can start.
func (h *hlsViewer) startPart() partKey {
	k := partKey{h.pl.hintMSN, h.pl.hintIdx}
	for i := len(h.pl.parts) - 1; i >= 0; i-- {
		if h.pl.parts[i].indep {
			return partKey{h.pl.parts[i].msn, h.pl.parts[i].idx}
		}
	}
	return k
}

func (h *hlsViewer) runLL(ctx context.Context) error {
	cur := h.startPart()
	for ctx.Err() == nil {
		if h.pl.ended {
			return fmt.Errorf("stream ended")
		}
		var err error
		// Every listed part from the cursor on (normally none: the part the
		// viewer just got came through the preload hint).
		for i := range h.pl.parts {
			p := &h.pl.parts[i]
			if k := (partKey{p.msn, p.idx}); k.less(cur) {
				continue
			}
			if err = h.fetchMedia(ctx, p.uri, p.mapURI, p.dur); err != nil {
				break
			}
			cur = partKey{p.msn, p.idx + 1}
		}
		var at partKey
		if err == nil && h.pl.hintURI != "" && !(partKey{h.pl.hintMSN, h.pl.hintIdx}).less(cur) {
			// The hinted part: the server answers when it is complete.
			mapURI := h.mapURI
			if n := len(h.pl.parts); n > 0 {
				mapURI = h.pl.parts[n-1].mapURI
			}
			hint := partKey{h.pl.hintMSN, h.pl.hintIdx}
			if err = h.fetchMedia(ctx, h.pl.hintURI, mapURI, h.prevDur); err == nil {
				cur = partKey{hint.msn, hint.idx + 1}
				at = hint // already available: returns at once with the next hint
			}
		} else if err == nil {
			at = cur // block until the next part is listed
		}
		if err != nil {
			if err := h.retry(ctx, err); err != nil {
				return err
			}
			var he *httpError
			if errors.As(err, &he) && he.code == http.StatusNotFound {
				// Fell out of the window (or a new session): start again.
				if err := h.reload(ctx, nil); err == nil {
					cur = h.startPart()
				}
				continue
			}
			at = cur
		}
		if err := h.reload(ctx, &at); err != nil {
			if err := h.retry(ctx, err); err != nil {
				return err
			}
			if err := h.reload(ctx, nil); err != nil {
				continue
			}
			if len(h.pl.parts) == 0 || cur.less(partKey{h.pl.parts[0].msn, h.pl.parts[0].idx}) {
				cur = h.startPart()
			}
			continue
		}
		h.errs = 0
	}
	return ctx.Err()
}

func (h *hlsViewer) runClassic(ctx context.Context) error {
	poll := max(h.pl.targetDur/2, 100*time.Millisecond)
	h.extraSlack = poll
	var next uint64
	if n := len(h.pl.segments); n > 0 {
		next = h.pl.segments[n-1].msn
	}
	due := time.Now()
	for ctx.Err() == nil {
		for i := range h.pl.segments {
			s := &h.pl.segments[i]
			if s.msn < next {
				continue
			}
			if err := h.fetchMedia(ctx, s.uri, s.mapURI, s.dur); err != nil {
				if err := h.retry(ctx, err); err != nil {
					return err
				}
				break
			}
			h.errs = 0
			next = s.msn + 1
		}
		if h.pl.ended {
			return fmt.Errorf("stream ended")
		}
		due = due.Add(poll)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		} else {
			due = time.Now()
		}
		if err := h.reload(ctx, nil); err != nil {
			if err := h.retry(ctx, err); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}
