package rtmp

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFFmpegInterop runs the real ffmpeg client against the in-test server:
// ffmpeg publishes H.264 (exercising the digest handshake, header
// compression and chunk size changes in ChunkReader), then plays the
// captured media back. As a player ffmpeg verifies the S1 digest and the S2
// signature, so a bad digest handshake fails the second half.
func TestFFmpegInterop(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed")
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	s := newTestServer(t)
	url := "rtmp://" + s.addr() + "/live/x"
	pub := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-t", "2",
		"-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-f", "flv", url)
	out, err := pub.CombinedOutput()
	require.NoError(t, err, "ffmpeg publish: %s", out)
	select {
	case <-s.done:
	case <-ctx.Done():
		t.Fatal("publish session did not end")
	}

	cmds, media := s.snapshot()
	var names []string
	for _, c := range cmds {
		names = append(names, c.Name)
	}
	require.Contains(t, names, "connect")
	require.Contains(t, names, "publish")
	var video []*Message
	for _, m := range media {
		if m.Type == MsgVideo {
			video = append(video, m)
		}
	}
	require.GreaterOrEqual(t, len(video), 15, "about 20 frames expected")
	require.Equal(t, []byte{0x17, 0x00}, video[0].Payload[:2], "AVC sequence header first")
	require.Greater(t, video[len(video)-1].Timestamp, uint32(1500))

	// Play back what was published.
	s.setPlayMessages(media)
	play := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error",
		"-i", url, "-f", "framecrc", "-")
	var stdout, stderr bytes.Buffer
	play.Stdout, play.Stderr = &stdout, &stderr
	require.NoError(t, play.Run(), "ffmpeg play: %s", stderr.String())
	require.NotContains(t, stderr.String(), "validating failed")
	require.NotContains(t, stderr.String(), "Signature mismatch")
	require.Equal(t, []bool{true, true}, s.digestC1s(), "ffmpeg uses the digest handshake")
	frames := strings.Count(stdout.String(), "\n0, ")
	require.GreaterOrEqual(t, frames, 15, "decoded frames:\n%s", stdout.String())
}
