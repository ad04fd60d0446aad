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
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	publishWithAudio(t, s, "live/mp3w", 48000, "-c:a", "libmp3lame", "-b:a", "64k", "-ar", "48000")
	v := playWHEP(t, s.HTTPAddr, "live/mp3w")
	v.waitFrames(t, 50, 30*time.Second)
	audioPkts, audioCodec := v.waitAudio(50, 15*time.Second)
	require.GreaterOrEqual(t, audioPkts, 50, "Opus RTP packets from the MP3 publisher; logs:\n%s", s.LogText())
	require.True(t, strings.EqualFold(audioCodec, pion.MimeTypeOpus), "audio codec %q", audioCodec)
	require.Empty(t, s.Logs("audio bridge failed"), "the bridge restarted")
}
