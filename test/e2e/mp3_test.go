package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// publishMP3 runs ffmpeg publishing H.264 + MP3 (libmp3lame, 44.1 kHz,
// MPEG-1 Layer III) over RTMP to path until the test ends.
func publishMP3(t *testing.T, s *testutil.Sluice, path string) {
	t.Helper()
	pub := testutil.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "50", "-keyint_min", "50",
		"-sc_threshold", "0", "-pix_fmt", "yuv420p",
		"-c:a", "libmp3lame", "-b:a", "64k", "-ar", "44100", "-ac", "2",
		"-f", "flv", "rtmp://"+s.RTMPAddr+"/"+path)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("publisher stderr: %s", pub.Stderr())
		}
	})
	waitForStream(t, s, path)
}

// requireFMP4Audio waits for the LL-HLS playlist and the MPD of base (a
// stream URL without extension) and requires both to carry audio codec
// (ffprobe's name) at rate Hz, the MPD naming it codecs="mpdCodecs".
func requireFMP4Audio(t *testing.T, base, mpdCodecs, codec, rate string) {
	t.Helper()
	waitForPlaylist(t, base+".m3u8")
	requireAudio(t, base+".m3u8", codec, rate)
	waitForMPD(t, base+".mpd")
	mpd := getText(t, base+".mpd")
	require.Contains(t, mpd, `codecs="`+mpdCodecs+`"`, "MPD:\n%s", mpd)
	requireAudio(t, base+".mpd", codec, rate)
}

// requireAudio probes url and requires H.264 video and an audio stream
// in codec (ffprobe's name) at rate Hz in stereo, then decodes 3 s of the
// audio and requires no decoder error.
func requireAudio(t *testing.T, url, codec, rate string) {
	t.Helper()
	streams, err := testutil.Probe(t, url, 30*time.Second)
	require.NoError(t, err, url)
	var audio, video *testutil.ProbeStream
	for i := range streams {
		switch streams[i].CodecType {
		case "audio":
			audio = &streams[i]
		case "video":
			video = &streams[i]
		}
	}
	require.NotNil(t, video, "%s: no video stream in %+v", url, streams)
	require.Equal(t, "h264", video.CodecName, url)
	require.NotNil(t, audio, "%s: no audio stream in %+v", url, streams)
	require.Equal(t, codec, audio.CodecName, "%s: audio codec", url)
	require.Equal(t, rate, audio.SampleRate, "%s: audio sampling rate", url)
	require.Equal(t, 2, audio.Channels, "%s: audio channels", url)
	res, err := testutil.Decode(t, url, 3*time.Second, "-vn")
	require.NoError(t, err, url)
	require.Empty(t, res.Errors, "%s: audio decode errors", url)
}

// TestMP3EveryProtocol (issue 12): an RTMP publisher sending MP3 keeps its
// audio everywhere. MPEG-TS HLS and HTTP-FLV carry the MP3 as published;
// WHEP viewers, the default LL-HLS playlist and DASH get the Opus that one
// ffmpeg bridges from it for the stream's life (browsers' MSE decodes no
// MP3 in MP4); FLV viewers keep MP3 although that Opus exists.
func TestMP3EveryProtocol(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{"SLUICE_HLS_VARIANT=lowlatency"})
	publishMP3(t, s, "live/mp3")
	base := "http://" + s.HTTPAddr + "/live/mp3"

	requireFMP4Audio(t, base, "opus", "opus", "48000")

	v := playWHEP(t, s.HTTPAddr, "live/mp3")
	v.waitFrames(t, 25, 30*time.Second)
	audioPkts, audioCodec := v.waitAudio(50, 15*time.Second)
	require.GreaterOrEqual(t, audioPkts, 50, "Opus RTP packets bridged from MP3 within 15 s")
	require.True(t, strings.EqualFold(audioCodec, pion.MimeTypeOpus), "WHEP audio codec %q", audioCodec)
	require.Len(t, s.Logs("audio bridge started"), 1, "one MP3→Opus bridge for the stream, shared by WHEP and fMP4")

	requireAudio(t, base+".flv", "mp3", "44100")
	require.Empty(t, s.Logs("packager dropping track"), "a packager dropped the audio")
}

// TestMP3MPEGTSVariant (issue 12): with hls.variant mpegts the segments
// carry the publisher's MP3 (stream type 0x03), not the derived Opus.
func TestMP3MPEGTSVariant(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{"SLUICE_HLS_VARIANT=mpegts"})
	publishMP3(t, s, "live/mp3ts")
	url := "http://" + s.HTTPAddr + "/live/mp3ts.m3u8"
	waitForPlaylist(t, url)
	requireAudio(t, url, "mp3", "44100")
	require.Empty(t, s.Logs("packager dropping track"), "the MPEG-TS packager dropped the MP3 track")
}

// TestMP3InFMP4WithoutFFmpeg (issue 12): where no ffmpeg can bridge, fMP4
// (LL-HLS and DASH) carries the MP3 itself as mp4a.6B.
func TestMP3InFMP4WithoutFFmpeg(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{"PATH=" + t.TempDir()})
	publishMP3(t, s, "live/mp3")
	base := "http://" + s.HTTPAddr + "/live/mp3"
	requireFMP4Audio(t, base, "mp4a.6B", "mp3", "44100")
	require.NotEmpty(t, s.Logs("audio bridge unavailable: ffmpeg not found"), "the missing bridge is logged")
}

// TestMP3Ladder (issue 12): an ABR ladder of an MP3 stream has audio (the
// transcoder reads the publisher's MP3, not nothing), and the multivariant
// playlist names the audio each variant's segments hold: Opus for the
// source's fMP4 (derived from the MP3), AAC for the rungs — also for one
// without audio_bitrate, which would otherwise copy the MP3 and need a
// bridge of its own.
func TestMP3Ladder(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`
paths:
  "live/*":
    transcode:
      passthrough: true
      ladder:
        - { name: 240p, width: 320, height: 240, video_bitrate: 300k, audio_bitrate: 64k, preset: ultrafast }
        - { name: 144p, width: 192, height: 144, video_bitrate: 150k, preset: ultrafast }
`), 0o644))
	s := testutil.StartSluice(t, nil, "-config", cfg)
	publishMP3(t, s, "live/mp3abr")
	base := "http://" + s.HTTPAddr + "/live/"
	var mv string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mv = getText(t, base+"mp3abr.m3u8")
		if strings.Count(mv, "#EXT-X-STREAM-INF:") == 3 && strings.Count(mv, "mp4a.40.2") == 2 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	infs := parseMultivariant(t, mv)
	require.Len(t, infs, 3, "source and two rungs:\n%s", mv)
	require.Contains(t, infs[0].attrs["CODECS"], "opus", "the source's fMP4 carries the Opus derived from MP3:\n%s", mv)
	for i, rung := range []string{"240p", "144p"} {
		require.Contains(t, infs[i+1].attrs["CODECS"], "mp4a.40.2", "rung %s carries AAC made from the MP3 (also without audio_bitrate):\n%s", rung, mv)
		waitForStream(t, s, "live/mp3abr_"+rung)
		requireAudio(t, base+"mp3abr_"+rung+".flv", "aac", "44100")
	}
	// Only the source needs an MP3→Opus bridge: no rung is MP3.
	require.Len(t, s.Logs("audio bridge started"), 1, "audio bridges")
}

// browserAudio is what web/test/audio.mjs reports.
type browserAudio struct {
	OK          bool     `json:"ok"`
	Advanced    float64  `json:"advanced"`
	AudioBytes  int64    `json:"audioBytes"`
	FatalErrors []string `json:"fatalErrors"`
	Errors      []string `json:"errors"`
	Error       string   `json:"error"`
}

// runAudioCheck plays path with proto on the player page in Chromium (web/
// test/audio.mjs) and returns its report; every browser process is killed.
func runAudioCheck(t *testing.T, root, base, proto, path string) browserAudio {
	t.Helper()
	const timeout = 30 // seconds, inside the script
	var res browserAudio
	runBrowserScript(t, root, filepath.Join(root, "web", "test", "audio.mjs"), (timeout+15)*time.Second, &res, "--base", base,
		"--proto", proto, "--path", path, "--seconds", "4", "--timeout", strconv.Itoa(timeout))
	return res
}

// TestMP3BrowserAudio (issue 12): Chromium's player page plays an MP3
// publisher with audio over LL-HLS, DASH and HTTP-FLV. Carrying the MP3 in
// fMP4 instead made hls.js fail (bufferAddCodecError: MSE has no MP3 in
// MP4) and dash.js play silent; old main played every one without audio.
func TestMP3BrowserAudio(t *testing.T) {
	root := repoRoot(t)
	requireBrowserTools(t, root)
	s := testutil.StartSluice(t, nil)
	publishMP3(t, s, "live/mp3web")
	for _, proto := range []string{"hls", "dash", "flv"} {
		t.Run(proto, func(t *testing.T) {
			res := runAudioCheck(t, root, "http://"+s.HTTPAddr, proto, "live/mp3web")
			t.Logf("%s: advanced %.1f s, %d audio bytes decoded, errors %q", proto, res.Advanced, res.AudioBytes, res.Errors)
			require.Empty(t, res.Error)
			require.Empty(t, res.FatalErrors, "fatal player errors")
			require.GreaterOrEqual(t, res.Advanced, 4.0, "video.currentTime must advance by 4 s")
			require.Positive(t, res.AudioBytes, "Chromium decoded no audio")
		})
	}
}
