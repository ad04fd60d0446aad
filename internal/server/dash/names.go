package dashserver

import (
	"strconv"
	"strings"
)

// Media URLs live under the stream: /APP/NAME/dash/FILE, with FILE one of
//
//	SID_v_initN.mp4  video-only init section of init N   (the MPD's)
//	SID_v_tT.m4s     video fragments of the segment at MPD time T (the MPD's)
//	SID_v_eE_tT.m4s  the same, addressed from the Period of the clock epoch
//	                 E (ms; a republish that moved the wall clock, the
//	                 Period's ID suffix): tells a stale client's request
//	                 across a republish from a current one (stale.go)
//	SID_v_segM.m4s   video fragments of segment M
//	SID_a_initN.mp4  audio-only init section of init N   (the MPD's)
//	SID_a_tT.m4s     audio fragments of the segment at MPD time T (the MPD's)
//	SID_a_segM.m4s   audio fragments of segment M
//	SID_initN.mp4    muxed init section N (HLS's bytes)
//	SID_segM.m4s     muxed segment M (HLS's bytes)
//	time             the server's clock, ISO 8601 (UTCTiming)
//
// Segments are streamed part by part while being written. SID and the
// numbers are the packager's, the same as HLS's
// (/APP/NAME/hls/SID_segM.m4s): muxed files are byte-identical to HLS's,
// per-track ones carry the same samples. SID is random per packager
// session, so media of an earlier session is never confused with this
// one's, and media URLs cannot be guessed without the MPD.
const timeFile = "time"

type fileKind uint8

const (
	fileInit fileKind = iota + 1
	fileSegment
	fileSegmentAt // a segment named by its MPD time
)

type mediaFile struct {
	kind  fileKind
	sid   string
	track int    // trackVideo, trackAudio, or 0: muxed
	num   uint64 // init: the init ID; segment: the MSN; segment at: the time
	// epoch is the clock epoch (ms) of the Period a segment-at name
	// addresses, -1 for an init's first Period (no eE).
	epoch int64
}

// parseMediaFile parses a media file name; ok is false for anything else.
func parseMediaFile(name string) (f mediaFile, ok bool) {
	sid, rest, found := strings.Cut(name, "_")
	if !found || sid == "" || len(sid) > 32 || len(rest) > 32 {
		return f, false
	}
	num := func(s string) (uint64, bool) {
		if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
			return 0, false
		}
		n, err := strconv.ParseUint(s, 10, 64)
		return n, err == nil
	}
	f.sid, f.epoch = sid, -1
	if t, r, ok := strings.Cut(rest, "_"); ok {
		switch t {
		case "v":
			f.track = trackVideo
		case "a":
			f.track = trackAudio
		default:
			return f, false
		}
		rest = r
	}
	switch {
	case strings.HasPrefix(rest, "init") && strings.HasSuffix(rest, ".mp4"):
		n, ok := num(rest[len("init") : len(rest)-len(".mp4")])
		if !ok || n > 1<<30 {
			return f, false
		}
		f.kind, f.num = fileInit, n
	case strings.HasPrefix(rest, "seg") && strings.HasSuffix(rest, ".m4s"):
		n, ok := num(rest[len("seg") : len(rest)-len(".m4s")])
		if !ok {
			return f, false
		}
		f.kind, f.num = fileSegment, n
	case f.track != 0 && strings.HasPrefix(rest, "e") && strings.HasSuffix(rest, ".m4s"):
		e, at, found := strings.Cut(rest[len("e"):], "_t")
		n, ok := num(strings.TrimSuffix(at, ".m4s"))
		ep, ok2 := num(e)
		if !found || !ok || !ok2 || ep > 1<<52 {
			return f, false
		}
		f.kind, f.num, f.epoch = fileSegmentAt, n, int64(ep)
	case f.track != 0 && strings.HasPrefix(rest, "t") && strings.HasSuffix(rest, ".m4s"):
		n, ok := num(rest[len("t") : len(rest)-len(".m4s")])
		if !ok {
			return f, false
		}
		f.kind, f.num = fileSegmentAt, n
	default:
		return f, false
	}
	return f, true
}
