package e2e

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestSRTGStreamerPublishAndRead: GStreamer's srtsink publishes (a TS
// made by ffmpeg, paced by tsparse's timestamps), HTTP-FLV plays it, and
// GStreamer's srtsrc reads it back as TS that ffprobe decodes.
func TestSRTGStreamerPublishAndRead(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	testutil.RequireTool(t, "gst-launch-1.0")
	for _, el := range []string{"srtsink", "srtsrc", "tsparse"} {
		if exec.Command("gst-inspect-1.0", el).Run() != nil {
			t.Skipf("GStreamer element %s missing (gstreamer1.0-plugins-bad)", el)
		}
	}
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.ts")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "15", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-f", "mpegts", clip).CombinedOutput()
	require.NoError(t, err, "%s", out)

	s := testutil.StartSluice(t, nil)
	testutil.Start(t, "gst-launch-1.0", "-q", "filesrc", "location="+clip, "!", "tsparse", "set-timestamps=true",
		"!", "srtsink", "uri=srt://"+s.SRTAddr+"?streamid=publish:live/gst")
	waitForStream(t, s, "live/gst")
	res, err := testutil.Decode(t, "http://"+s.HTTPAddr+"/live/gst.flv", 2*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 30, "HTTP-FLV frames of a GStreamer SRT publisher")

	got := filepath.Join(dir, "read.ts")
	rd := testutil.Start(t, "gst-launch-1.0", "-q", "srtsrc", "uri=srt://"+s.SRTAddr+"?streamid=read:live/gst",
		"num-buffers=200", "!", "filesink", "location="+got)
	require.NoError(t, rd.Wait(20*time.Second), "srtsrc: %s", rd.Stderr())
	frames := testutil.CountFrames(t, got, "mpegts")
	require.GreaterOrEqual(t, frames, 25, "frames ffprobe decodes from what srtsrc read")
}

// TestSRTCarriesH265AndOpus: ffmpeg publishes H.265 + Opus in MPEG-TS
// over SRT; an SRT reader gets both codecs back, and HTTP-FLV (Enhanced
// FLV hvc1) plays the video.
func TestSRTCarriesH265AndOpus(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	testutil.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none:bframes=0", "-g", "25",
		"-c:a", "libopus", "-b:a", "64k", "-f", "mpegts", testutil.SRTURL(s.SRTAddr, "publish:live/hevc"))
	waitForStream(t, s, "live/hevc")
	streams, err := testutil.Probe(t, testutil.SRTURL(s.SRTAddr, "read:live/hevc"), 20*time.Second)
	require.NoError(t, err)
	codecs := []string{}
	for _, st := range streams {
		codecs = append(codecs, st.CodecName)
	}
	require.Contains(t, codecs, "hevc", "SRT reader's codecs")
	// AAC is preferred for MPEG-TS readers: the AAC bridged from Opus, or
	// the Opus itself while no bridge runs.
	require.Len(t, codecs, 2, "video and audio, got %v", codecs)
	t.Logf("SRT reader of an H.265 + Opus publisher gets %v", codecs)
	res, err := testutil.Decode(t, testutil.SRTURL(s.SRTAddr, "read:live/hevc"), 2*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 30, "H.265 frames decoded from the SRT reader")
}
