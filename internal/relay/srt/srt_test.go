package srtrelay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/mpegts"
	"github.com/sluicemedia/sluice/internal/relay"
	"github.com/sluicemedia/sluice/internal/testutil"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// freeUDPPort returns a loopback UDP port nobody uses right now.
func freeUDPPort(t *testing.T) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// patternArgs is a real-time H.264 + AAC test pattern for ffmpeg.
var patternArgs = []string{"-hide_banner", "-loglevel", "error", "-re",
	"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
	"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
	"-c:a", "aac", "-b:a", "64k"}

// TestPullFromFFmpegListener: ffmpeg serves a stream in SRT listener mode;
// Pull calls it and the hub stream gets both tracks, bytes and the
// connected state; cancelling ends the pull with ctx's error.
func TestPullFromFFmpegListener(t *testing.T) {
	testutil.CheckGoroutines(t)
	port := freeUDPPort(t)
	testutil.Start(t, "ffmpeg", append(patternArgs, "-f", "mpegts",
		fmt.Sprintf("srt://127.0.0.1:%d?mode=listener", port))...)
	h := hub.New(hub.Options{Logger: quiet})
	defer h.Close()
	pub, err := h.Publish("live/pulled", hub.ClientInfo{Protocol: "srt-pull", Remote: "test"})
	require.NoError(t, err)
	defer pub.Close("test over")

	src, _ := url.Parse(fmt.Sprintf("srt://127.0.0.1:%d?latency=120", port))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stats := &relay.Stats{}
	done := make(chan error, 1)
	c := &Client{}
	go func() {
		// ffmpeg may not listen yet: retry like the Manager would.
		for {
			err := c.Pull(ctx, src, pub, stats, quiet)
			if stats.IsConnected() || ctx.Err() != nil {
				done <- err
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	require.Eventually(t, func() bool {
		v, a := h.Stream("live/pulled").Tracks()
		return v != nil && a != nil && stats.IsConnected() && stats.Bytes.Load() > 10_000
	}, 20*time.Second, 20*time.Millisecond, "pulled stream with both tracks")
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(5 * time.Second):
		t.Fatal("Pull did not return after cancel")
	}
}

// TestPushToFFmpegListener: a hub stream (fed from ffmpeg's TS on a pipe)
// is pushed to ffmpeg in SRT listener mode, which records it; ffprobe
// decodes the recording.
func TestPushToFFmpegListener(t *testing.T) {
	testutil.CheckGoroutines(t)
	h := hub.New(hub.Options{Logger: quiet})
	defer h.Close()
	pub, err := h.Publish("live/src", hub.ClientInfo{Protocol: "test", Remote: "pipe"})
	require.NoError(t, err)
	feed := exec.Command("ffmpeg", append(patternArgs, "-t", "20", "-f", "mpegts", "pipe:1")...)
	out, err := feed.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, feed.Start())
	fed := make(chan struct{})
	go func() { defer close(fed); _ = mpegts.Demux(out, pub, mpegts.DemuxOptions{Logger: quiet}) }()
	t.Cleanup(func() { _ = feed.Process.Kill(); _ = feed.Wait(); <-fed; pub.Close("test over") })

	port := freeUDPPort(t)
	file := filepath.Join(t.TempDir(), "pushed.ts")
	rec := testutil.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-i",
		fmt.Sprintf("srt://127.0.0.1:%d?mode=listener", port), "-c", "copy", "-t", "3", "-y", file)
	require.Eventually(t, func() bool {
		v, a := h.Stream("live/src").Tracks()
		return v != nil && a != nil
	}, 20*time.Second, 20*time.Millisecond)

	dst, _ := url.Parse(fmt.Sprintf("srt://127.0.0.1:%d", port))
	stats := &relay.Stats{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := &Client{}
	var pushErr error
	for ctx.Err() == nil {
		rd, err := h.Subscribe(ctx, "live/src", hub.ClientInfo{Protocol: "srt-push", Remote: "test"})
		require.NoError(t, err)
		pushErr = c.Push(ctx, dst, rd, stats, quiet)
		rd.Close()
		if stats.IsConnected() {
			break
		}
		time.Sleep(100 * time.Millisecond) // ffmpeg not listening yet
	}
	require.True(t, stats.IsConnected())
	require.Error(t, pushErr, "the recorder leaves after 3 s")
	require.False(t, errors.Is(pushErr, context.DeadlineExceeded), "push ended by the test timeout: %v", pushErr)
	require.NoError(t, rec.Wait(10*time.Second), "recorder: %s", rec.Stderr())
	require.Greater(t, stats.Bytes.Load(), uint64(50_000))
	frames := testutil.CountFrames(t, file, "mpegts")
	require.GreaterOrEqual(t, frames, 50, "frames ffprobe decodes from what was pushed")
}

func TestRefusesOtherModes(t *testing.T) {
	u, _ := url.Parse("srt://127.0.0.1:1?mode=listener")
	err := (&Client{}).Pull(context.Background(), u, nil, &relay.Stats{}, quiet)
	require.ErrorContains(t, err, "only caller mode")
}
