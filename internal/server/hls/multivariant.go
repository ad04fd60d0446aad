package hlsserver

import (
	"bytes"
	"strconv"
	"strings"
)

// Ladder describes the adaptive-bitrate renditions of a source stream: the
// variants of its multivariant playlist (RFC 8216bis §4.4.6).
type Ladder struct {
	// Passthrough lists the source stream itself as the first variant.
	Passthrough bool
	// Rungs are the transcoded renditions; rung R of source APP/NAME is the
	// stream APP/NAME_R.
	Rungs []Rung
}

// Rung is one transcoded rendition, as configured. Its sizes and bitrates
// are used only until the rendition's own tracks and segments exist.
type Rung struct {
	// Name is the suffix of the rendition's stream path.
	Name string
	// Width and Height in pixels (Width 0: keeps the aspect ratio).
	Width, Height int
	// VideoBitrate and AudioBitrate in bits per second (AudioBitrate 0:
	// the source audio is copied).
	VideoBitrate, AudioBitrate int64
	// MaxFPS caps the frame rate; 0 keeps the source rate.
	MaxFPS int
}

// Transcoder starts and keeps alive ladders on demand; transcode.Manager
// implements it.
type Transcoder interface {
	// Ensure starts the ladder of source if needed and counts as a use;
	// it reports whether a ladder is running for source.
	Ensure(source string) bool
	// Touch counts as a use of the ladder path belongs to (as its source
	// or a rendition).
	Touch(path string)
}

// mediaPlaylistFile is the file name, under /APP/NAME/hls/, of the media
// playlist of any stream. /APP/NAME.m3u8 is the same playlist unless
// APP/NAME has a ladder, where it is the multivariant playlist.
const mediaPlaylistFile = "media.m3u8"

// member is one variant of a ladder.
type member struct {
	// path is the variant's stream path.
	path string
	// uri is its media playlist relative to the directory /APP/.
	uri string
	// rung is the configured rung; nil for the passthrough source.
	rung *Rung
}

// members lists the variants of source's ladder in multivariant order:
// the source first (with passthrough), then every rung.
func members(source string, l *Ladder) []member {
	name := source[strings.LastIndexByte(source, '/')+1:]
	var ms []member
	if l.Passthrough {
		ms = append(ms, member{path: source, uri: name + "/hls/" + mediaPlaylistFile})
	}
	for i := range l.Rungs {
		r := &l.Rungs[i]
		ms = append(ms, member{path: source + "_" + r.Name, uri: name + "_" + r.Name + ".m3u8", rung: r})
	}
	return ms
}

// variant is what an EXT-X-STREAM-INF tag says of one variant stream.
type variant struct {
	// uri of the variant's media playlist, relative to the multivariant
	// playlist.
	uri string
	// bandwidth and average are BANDWIDTH and AVERAGE-BANDWIDTH, bits/s.
	bandwidth, average int64
	// width and height are the RESOLUTION; 0 when unknown.
	width, height int
	// frameRate is FRAME-RATE; 0 when unknown.
	frameRate float64
	// codecs are the RFC 6381 strings of CODECS; empty when unknown.
	codecs []string
}

// renderMultivariant writes a multivariant playlist (RFC 8216bis §4.4.6):
// one EXT-X-STREAM-INF (§4.4.6.2) per variant, in order. Audio is muxed in
// every variant's segments, so there are no EXT-X-MEDIA groups.
func renderMultivariant(vs []variant) []byte {
	var b bytes.Buffer
	b.Grow(256 * (len(vs) + 1))
	b.WriteString("#EXTM3U\n")
	// §4.4.2.1: every segment starts with a keyframe (the packager cuts
	// segments at keyframes) in every media playlist listed here.
	b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, v := range vs {
		// §4.4.6.2: BANDWIDTH is the peak segment bit rate, AVERAGE-
		// BANDWIDTH the average, both of every media in the variant.
		b.WriteString("#EXT-X-STREAM-INF:BANDWIDTH=")
		b.WriteString(strconv.FormatInt(max(v.bandwidth, 1), 10))
		if v.average > 0 {
			b.WriteString(",AVERAGE-BANDWIDTH=")
			b.WriteString(strconv.FormatInt(v.average, 10))
		}
		if len(v.codecs) > 0 {
			b.WriteString(`,CODECS="`)
			b.WriteString(strings.Join(v.codecs, ","))
			b.WriteByte('"')
		}
		if v.width > 0 && v.height > 0 {
			b.WriteString(",RESOLUTION=")
			b.WriteString(strconv.Itoa(v.width))
			b.WriteByte('x')
			b.WriteString(strconv.Itoa(v.height))
		}
		if v.frameRate > 0 {
			// §4.4.6.2: a decimal-floating-point rounded to three places.
			b.WriteString(",FRAME-RATE=")
			b.WriteString(strconv.FormatFloat(v.frameRate, 'f', 3, 64))
		}
		b.WriteByte('\n')
		b.WriteString(v.uri)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// renditionReport is one EXT-X-RENDITION-REPORT (RFC 8216bis §4.4.5.4).
type renditionReport struct {
	// uri is the sibling's media playlist relative to this playlist.
	uri string
	// lastMSN and lastPart locate the sibling's newest part (lastPart -1:
	// no parts; LAST-MSN is then its newest segment).
	lastMSN  uint64
	lastPart int
}
