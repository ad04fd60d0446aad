package transcode

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
)

// Rung is one rendition of a ladder.
type Rung struct {
	// Name is appended to the source path: live/cam1 + "480p" → live/cam1_480p.
	Name string
	// Width in pixels; 0 keeps the source aspect ratio.
	Width int
	// Height in pixels.
	Height int
	// VideoBitrate in bits per second.
	VideoBitrate int64
	// AudioBitrate in bits per second; 0 copies the source audio as is.
	AudioBitrate int64
	// MaxFPS caps the frame rate; 0 keeps the source rate.
	MaxFPS int
	// Preset is the x264 preset; "" means veryfast.
	Preset string
}

// mp3RungAudioBitrate is the AAC bitrate (bits per second) of a rung that
// would copy an MP3 source's audio (see ladderFor).
const mp3RungAudioBitrate = 128000

// ladderFor returns the ladder for a source whose audio is in codec c:
// rungs that copy the audio (AudioBitrate 0) encode AAC instead when the
// source is MP3, so that a rendition is not another MP3 stream needing an
// MP3→Opus bridge (one more ffmpeg) of its own.
func ladderFor(ladder []Rung, c av.Codec) []Rung {
	if c != av.CodecMP3 {
		return ladder
	}
	out := append([]Rung(nil), ladder...)
	for i := range out {
		if out[i].AudioBitrate == 0 {
			out[i].AudioBitrate = mp3RungAudioBitrate
		}
	}
	return out
}

// RenditionPath is the stream path of rung r of source path.
func RenditionPath(source string, r Rung) string { return source + "_" + r.Name }

// ffmpegArgs builds one ffmpeg command for a whole ladder: the source comes
// in as FLV on stdin and rendition i goes out as FLV on file descriptor 3+i.
//
// Keyframes are forced at every multiple of gop on the source timestamps
// (-copyts keeps them) and scene-cut keyframes are off, so every rendition
// has keyframes at the same presentation times and HLS/DASH segment
// boundaries line up across the ladder.
func ffmpegArgs(ladder []Rung, gop time.Duration, hasAudio bool) []string {
	args := []string{
		"-hide_banner", "-loglevel", "error", "-nostats",
		// The input starts with onMetaData and sequence headers: no need
		// for ffmpeg's default multi-second probing.
		"-fflags", "nobuffer", "-probesize", "65536", "-analyzeduration", "500000",
		"-copyts",
		"-f", "flv", "-i", "pipe:0",
	}
	var graph strings.Builder
	fmt.Fprintf(&graph, "[0:v]split=%d", len(ladder))
	for i := range ladder {
		fmt.Fprintf(&graph, "[s%d]", i)
	}
	for i, r := range ladder {
		graph.WriteString(";")
		fmt.Fprintf(&graph, "[s%d]", i)
		if r.MaxFPS > 0 {
			fmt.Fprintf(&graph, "fps=%d,", r.MaxFPS)
		}
		w := r.Width
		if w == 0 {
			w = -2 // keep aspect ratio, even width
		}
		fmt.Fprintf(&graph, "scale=%d:%d[v%d]", w, r.Height, i)
	}
	args = append(args, "-filter_complex", graph.String())
	keyframes := fmt.Sprintf("expr:gte(t,n_forced*%s)", strconv.FormatFloat(gop.Seconds(), 'f', -1, 64))
	for i, r := range ladder {
		preset := r.Preset
		if preset == "" {
			preset = "veryfast"
		}
		vb := strconv.FormatInt(r.VideoBitrate, 10)
		args = append(args,
			"-map", fmt.Sprintf("[v%d]", i),
			"-c:v", "libx264", "-preset", preset, "-tune", "zerolatency", "-pix_fmt", "yuv420p",
			"-b:v", vb, "-maxrate", vb, "-bufsize", strconv.FormatInt(2*r.VideoBitrate, 10),
			"-force_key_frames", keyframes, "-sc_threshold", "0", "-g", "9999",
		)
		if hasAudio {
			args = append(args, "-map", "0:a")
			if r.AudioBitrate > 0 {
				args = append(args, "-c:a", "aac", "-b:a", strconv.FormatInt(r.AudioBitrate, 10))
			} else {
				args = append(args, "-c:a", "copy")
			}
		}
		args = append(args, "-flush_packets", "1", "-f", "flv", fmt.Sprintf("pipe:%d", 3+i))
	}
	return args
}
