package hlsserver

import (
	"strconv"
	"strings"
)

// Media URLs live under the stream: /APP/NAME/hls/FILE, with FILE one of
//
//	SID_initN.mp4     fMP4 init section N
//	SID_segM.m4s      fMP4 segment M (its parts, concatenated)
//	SID_partM.I.m4s   fMP4 part I of segment M
//	SID_segM.ts       MPEG-TS segment M
//
// SID is the packager's session ID: media of an earlier session of the
// same stream (numbering restarts at 0) never collides in a cache, so
// every media response is immutable.
type fileKind uint8

const (
	fileInit fileKind = iota + 1
	fileSegment
	filePart
	fileTS
)

type mediaFile struct {
	kind  fileKind
	sid   string
	msn   uint64 // init: the init ID
	index int
}

func initName(sid string, id int) string {
	return sid + "_init" + strconv.Itoa(id) + ".mp4"
}

func segmentName(sid string, msn uint64, ts bool) string {
	if ts {
		return sid + "_seg" + strconv.FormatUint(msn, 10) + ".ts"
	}
	return sid + "_seg" + strconv.FormatUint(msn, 10) + ".m4s"
}

func partName(sid string, msn uint64, index int) string {
	return sid + "_part" + strconv.FormatUint(msn, 10) + "." + strconv.Itoa(index) + ".m4s"
}

// parseMediaFile parses a media file name; ok is false for anything else.
func parseMediaFile(name string) (f mediaFile, ok bool) {
	sid, rest, found := strings.Cut(name, "_")
	if !found || len(sid) == 0 || len(sid) > 32 || len(rest) > 48 {
		return f, false
	}
	f.sid = sid
	num := func(s string) (uint64, bool) {
		if s == "" || len(s) > 19 || (len(s) > 1 && s[0] == '0') {
			return 0, false
		}
		n, err := strconv.ParseUint(s, 10, 64)
		return n, err == nil
	}
	switch {
	case strings.HasPrefix(rest, "init") && strings.HasSuffix(rest, ".mp4"):
		n, ok := num(rest[4 : len(rest)-4])
		if !ok || n > 1<<30 {
			return f, false
		}
		f.kind, f.msn = fileInit, n
	case strings.HasPrefix(rest, "seg") && strings.HasSuffix(rest, ".m4s"):
		n, ok := num(rest[3 : len(rest)-4])
		if !ok {
			return f, false
		}
		f.kind, f.msn = fileSegment, n
	case strings.HasPrefix(rest, "seg") && strings.HasSuffix(rest, ".ts"):
		n, ok := num(rest[3 : len(rest)-3])
		if !ok {
			return f, false
		}
		f.kind, f.msn = fileTS, n
	case strings.HasPrefix(rest, "part") && strings.HasSuffix(rest, ".m4s"):
		m, i, found := strings.Cut(rest[4:len(rest)-4], ".")
		if !found {
			return f, false
		}
		n, ok1 := num(m)
		idx, ok2 := num(i)
		if !ok1 || !ok2 || idx > 1<<20 {
			return f, false
		}
		f.kind, f.msn, f.index = filePart, n, int(idx)
	default:
		return f, false
	}
	return f, true
}
