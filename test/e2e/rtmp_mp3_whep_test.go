package e2e

import (
	"strings"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestWHEPPlaysMP3Publisher (issue 12): an RTMP publisher sending MP3 audio
// is played over WHEP with Opus audio derived from the MP3.
func TestWHEPPlaysMP3Publisher(t *testing.T) {
	s := testutil.StartSluice(t, nil)
	testutil.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "50", "-pix_fmt", "yuv420p",
		"-c:a", "libmp3lame", "-b:a", "64k", "-ar", "48000",
		"-f", "flv", "rtmp://"+s.RTMPAddr+"/live/mp3w")
	waitForStream(t, s, "live/mp3w")
	v := playWHEP(t, s.HTTPAddr, "live/mp3w")
	v.waitFrames(t, 50, 30*time.Second)
	var audioPkts int
	var audioCodec string
	deadline := time.Now().Add(15 * time.Second)
	for audioPkts < 50 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		v.mu.Lock()
		audioPkts, audioCodec = v.audioPkts, v.audioCodec
		v.mu.Unlock()
	}
	require.GreaterOrEqual(t, audioPkts, 50, "Opus RTP packets from the MP3 publisher; logs:\n%s", s.LogText())
	require.True(t, strings.EqualFold(audioCodec, pion.MimeTypeOpus), "audio codec %q", audioCodec)
	require.Empty(t, s.Logs("audio bridge failed"), "the bridge restarted")
}
