package transcode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// slowExitFFmpeg writes a stand-in for ffmpeg that reads its input to the
// end and then takes a while to exit, as ffmpeg does while it flushes its
// encoders: the job of an ended stream outlives the stream.
func slowExitFFmpeg(t *testing.T, linger time.Duration) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ffmpeg")
	script := fmt.Sprintf("#!/bin/sh\ncat >/dev/null\nexec sleep %g\n", linger.Seconds())
	require.NoError(t, os.WriteFile(p, []byte(script), 0o755))
	return p
}

// TestAlwaysOnLadderSurvivesQuickRestart: a source that comes back as a
// new stream (after the republish grace) while the old stream's
// transcoder is still winding down gets its always-on ladder once the old
// job is gone, instead of none.
func TestAlwaysOnLadderSurvivesQuickRestart(t *testing.T) {
	quiet := quietLogger()
	var m *Manager
	h := hub.New(hub.Options{Logger: quiet, RepublishGrace: 50 * time.Millisecond,
		OnStreamStart: func(p string) { m.StreamStarted(p) }})
	m = New(Options{Hub: h, FFmpeg: slowExitFFmpeg(t, 3*time.Second), Ladder: func(p string) []Rung {
		if p == "live/src" {
			return ladder[:1]
		}
		return nil
	}, Logger: quiet})
	defer m.Close()
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Both clips are made first: the restart must come at once.
	clip1, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{Size: "320x180", Duration: 1500 * time.Millisecond}))
	require.NoError(t, err)
	clip2, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{Size: "320x180", Duration: 15 * time.Second}))
	require.NoError(t, err)
	publishLoadedClip(ctx, t, h, "live/src", clip1)
	first := h.Stream("live/src")
	require.NotNil(t, first)
	require.Eventually(t, func() bool {
		jobs := m.Jobs()
		return len(jobs) == 1 && jobs[0].Running
	}, 10*time.Second, 20*time.Millisecond, "the first stream's ladder never ran")

	// The clip ends, the grace expires: the stream ends while its ffmpeg
	// still flushes (3 s).
	require.Eventually(t, func() bool { return first.Ended() }, 10*time.Second, 10*time.Millisecond)
	require.Len(t, m.Jobs(), 1, "the old job must still be winding down for this test to mean anything")
	restart := time.Now()
	publishLoadedClip(ctx, t, h, "live/src", clip2)
	second := h.Stream("live/src")
	require.NotNil(t, second)
	require.NotSame(t, first, second)

	require.Eventually(t, func() bool {
		jobs := m.Jobs()
		return len(jobs) == 1 && jobs[0].Since.After(restart) && jobs[0].Running
	}, 12*time.Second, 20*time.Millisecond, "the restarted stream got no transcoder of its own")
}
