package hlsserver

import (
	"bytes"
	"strconv"
	"time"

	"github.com/sluicemedia/sluice/internal/packager"
)

// playlistOptions shape a media playlist.
type playlistOptions struct {
	// lowLatency adds the LL-HLS tags: parts, server control, preload hint.
	lowLatency bool
	// skip asks for a Playlist Delta Update (RFC 8216bis §6.2.5.1).
	skip bool
	// prefix is prepended to media file names: the stream's name and
	// "/hls/", relative to the playlist's URL.
	prefix string
	// partSegments is how many of the newest complete segments list their
	// parts (besides the open one). Default 2.
	partSegments int
	// reports are the sibling renditions of an ABR ladder (low latency
	// only).
	reports []renditionReport
}

// skipUntil is the CAN-SKIP-UNTIL value: RFC 8216bis §4.4.3.8 wants at
// least six target durations.
func skipUntil(target time.Duration) time.Duration { return 6 * target }

func seconds(d time.Duration, prec int) string {
	return strconv.FormatFloat(d.Seconds(), 'f', prec, 64)
}

// renderPlaylist writes a media playlist (RFC 8216bis §4.4) for snap.
func renderPlaylist(snap *packager.Snapshot, o playlistOptions) []byte {
	var b bytes.Buffer
	b.Grow(2048)
	ts := snap.Format == packager.FormatMPEGTS
	version := 7 // §4.4.3.5 EXT-X-MAP for non-I-frame playlists needs ≥ 6
	switch {
	case ts:
		version = 3 // floating-point EXTINF
	case o.lowLatency:
		version = 9 // §4.4.3.8 CAN-SKIP-UNTIL / EXT-X-SKIP
	}
	if o.partSegments == 0 {
		o.partSegments = 2
	}
	target := snap.TargetDuration
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:")
	b.WriteString(strconv.Itoa(version))
	b.WriteString("\n#EXT-X-TARGETDURATION:")
	b.WriteString(strconv.Itoa(int(target / time.Second)))
	b.WriteByte('\n')
	if o.lowLatency {
		// §4.4.3.8: blocking reload (§6.2.5.2), delta updates
		// (§6.2.5.1); PART-HOLD-BACK at least twice the part target,
		// three recommended.
		b.WriteString("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=")
		b.WriteString(seconds(skipUntil(target), 1))
		b.WriteString(",PART-HOLD-BACK=")
		b.WriteString(seconds(3*snap.PartTarget, 3))
		// §4.4.3.7
		b.WriteString("\n#EXT-X-PART-INF:PART-TARGET=")
		b.WriteString(seconds(snap.PartTarget, 3))
		b.WriteByte('\n')
	}

	segs := snap.Segments
	// The open segment is listed once it has a part (as parts only).
	if n := len(segs); n > 0 && !segs[n-1].Complete && (len(segs[n-1].Parts) == 0 || !o.lowLatency) {
		segs = segs[:n-1]
	}
	var first uint64
	if len(segs) > 0 {
		first = segs[0].MSN
	} else if len(snap.Segments) > 0 {
		first = snap.Segments[0].MSN
	}
	b.WriteString("#EXT-X-MEDIA-SEQUENCE:")
	b.WriteString(strconv.FormatUint(first, 10))
	b.WriteByte('\n')
	if snap.DiscontinuitySequence > 0 { // §4.4.3.3
		b.WriteString("#EXT-X-DISCONTINUITY-SEQUENCE:")
		b.WriteString(strconv.FormatUint(snap.DiscontinuitySequence, 10))
		b.WriteByte('\n')
	}

	if o.lowLatency && o.skip {
		// §6.2.5.1: replace the segments older than the Skip Boundary by
		// EXT-X-SKIP (§4.4.5.2).
		var total time.Duration
		for _, s := range segs {
			total += s.Duration
		}
		boundary := total - skipUntil(target)
		var end time.Duration
		k := 0
		for k < len(segs) && segs[k].Complete && end+segs[k].Duration <= boundary {
			end += segs[k].Duration
			k++
		}
		if k > 0 {
			b.WriteString("#EXT-X-SKIP:SKIPPED-SEGMENTS=")
			b.WriteString(strconv.Itoa(k))
			b.WriteByte('\n')
			segs = segs[k:]
		}
	}

	// Parts are listed for the newest segments only (§4.4.4.9: remove
	// them once older than about three target durations).
	complete := 0
	for _, s := range segs {
		if s.Complete {
			complete++
		}
	}
	var lastInit *packager.Init
	for i, s := range segs {
		if s.Discontinuity { // §4.4.4.3
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if !ts && s.Init != nil && s.Init != lastInit { // §4.4.4.5
			b.WriteString("#EXT-X-MAP:URI=\"")
			b.WriteString(o.prefix)
			b.WriteString(initName(snap.SessionID, s.Init.ID))
			b.WriteString("\"\n")
			lastInit = s.Init
		}
		b.WriteString("#EXT-X-PROGRAM-DATE-TIME:") // §4.4.4.6
		b.WriteString(s.ProgramDateTime.UTC().Format("2006-01-02T15:04:05.000Z"))
		b.WriteByte('\n')
		if o.lowLatency && (!s.Complete || i >= complete-o.partSegments) {
			for _, p := range s.Parts { // §4.4.4.9
				b.WriteString("#EXT-X-PART:DURATION=")
				b.WriteString(seconds(p.Duration, 5))
				b.WriteString(",URI=\"")
				b.WriteString(o.prefix)
				b.WriteString(partName(snap.SessionID, p.MSN, p.Index))
				b.WriteByte('"')
				if p.Independent {
					b.WriteString(",INDEPENDENT=YES")
				}
				b.WriteByte('\n')
			}
		}
		if s.Gap { // §4.4.4.7: media time the stream skipped, never loaded
			b.WriteString("#EXT-X-GAP\n")
		}
		if s.Complete { // §4.4.4.1
			b.WriteString("#EXTINF:")
			b.WriteString(seconds(s.Duration, 5))
			b.WriteString(",\n")
			b.WriteString(o.prefix)
			b.WriteString(segmentName(snap.SessionID, s.MSN, ts))
			b.WriteByte('\n')
		}
	}
	if snap.Ended {
		b.WriteString("#EXT-X-ENDLIST\n") // §4.4.3.4
	} else if o.lowLatency {
		// §4.4.5.3. Not while a discontinuity is pending: the hinted part
		// would be the new publisher's first, fetched (hls.js) as the
		// continuation of the old timeline before any playlist carries
		// its EXT-X-DISCONTINUITY. A blocking reload finds it instead.
		if !snap.DiscontinuityNext {
			msn, idx := nextPart(snap)
			b.WriteString("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"")
			b.WriteString(o.prefix)
			b.WriteString(partName(snap.SessionID, msn, idx))
			b.WriteString("\"\n")
		}
		// §4.4.5.4: where the sibling renditions stand, so a client
		// switching can ask for the right part at once (§6.2.5.2).
		for _, r := range o.reports {
			b.WriteString("#EXT-X-RENDITION-REPORT:URI=\"")
			b.WriteString(r.uri)
			b.WriteString("\",LAST-MSN=")
			b.WriteString(strconv.FormatUint(r.lastMSN, 10))
			if r.lastPart >= 0 {
				b.WriteString(",LAST-PART=")
				b.WriteString(strconv.Itoa(r.lastPart))
			}
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// nextPart returns the position of the part the packager publishes next.
func nextPart(snap *packager.Snapshot) (msn uint64, index int) {
	n := len(snap.Segments)
	if n == 0 {
		return 0, 0
	}
	last := snap.Segments[n-1]
	if last.Complete {
		return last.MSN + 1, 0
	}
	return last.MSN, len(last.Parts)
}
