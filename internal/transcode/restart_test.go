package transcode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
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

// restartingFFmpeg writes a stand-in for ffmpeg that ignores its input
// and writes outputs[i] as its rendition on its i-th run: the first run
// then exits (a crash) once the file go exists in its directory, later
// runs keep going until their input ends.
func restartingFFmpeg(t *testing.T, outputs ...[]byte) (program, dir string) {
	t.Helper()
	dir = t.TempDir()
	for i, out := range outputs {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("out%d.flv", i)), out, 0o644))
	}
	script := fmt.Sprintf(`#!/bin/sh
d=%s
n=$(cat "$d/runs" 2>/dev/null || echo 0)
echo $((n+1)) >"$d/runs"
cat "$d/out$n.flv" >&3
if [ "$n" = 0 ]; then
	while [ ! -f "$d/go" ]; do sleep 0.02; done
	exit 1
fi
exec cat >/dev/null
`, dir)
	program = filepath.Join(dir, "ffmpeg")
	require.NoError(t, os.WriteFile(program, []byte(script), 0o755))
	return program, dir
}

// flvOf is clip as an FLV file, its media tags shifted by shift and only
// those before until (0: all).
func flvOf(clip *replay.Clip, shift, until time.Duration) []byte {
	out := flv.AppendHeader(nil, true, true)
	for _, tag := range clip.Config {
		out = flv.AppendTag(out, tag.Type, 0, tag.Body)
	}
	for _, tag := range clip.Media {
		ts := time.Duration(tag.Timestamp) * time.Millisecond
		if until > 0 && ts >= until {
			break
		}
		out = flv.AppendTag(out, tag.Type, uint32((ts+shift)/time.Millisecond), tag.Body)
	}
	return out
}

// TestRestartedRenditionKeepsItsTimeline: a restarted ffmpeg starts again
// from the source's cached keyframe, so its output goes back 1.5 s over
// what the rendition already published. The overlap is dropped up to the first
// keyframe after the last published frame, and the rest is published with
// the timestamps ffmpeg gave it — the source's, which the ladder's
// segments are cut on — not rebased by the hub as a backward jump would be.
func TestRestartedRenditionKeepsItsTimeline(t *testing.T) {
	quiet := quietLogger()
	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{Size: "320x180", Duration: 8 * time.Second}))
	require.NoError(t, err)
	// First run: 0–3.5 s (keyframes every 2 s). Second run: the clip again
	// from 2 s on, i.e. 2–10 s, its keyframes at 2, 4, 6 and 8 s: it goes
	// back 1.5 s, more than the hub lets pass as jitter. Not a whole number
	// of GOPs, so a rebase (which puts the 2 s keyframe one frame after
	// 3.5 s) shows in the timestamps.
	const firstRun = 3500 * time.Millisecond
	program, dir := restartingFFmpeg(t, flvOf(clip, 0, firstRun), flvOf(clip, 2*time.Second, 0))
	var m *Manager
	// The stand-in ffmpeg writes its whole second run (8 s of media) at
	// once; with the default 5 s MaxLag a test reader that falls behind the
	// burst on a loaded machine is jumped to the newest keyframe, which is
	// the hub's lag policy, not what this test checks.
	h := hub.New(hub.Options{Logger: quiet, MaxLag: time.Minute, OnStreamStart: func(p string) { m.StreamStarted(p) }})
	m = New(Options{Hub: h, FFmpeg: program, Ladder: func(p string) []Rung {
		if p == "live/src" {
			return ladder[:1]
		}
		return nil
	}, Logger: quiet})
	defer m.Close()
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	publishLoadedClip(ctx, t, h, "live/src", clip)

	// Read the rendition from its newest keyframe (2 s), then let the
	// first ffmpeg crash.
	rendition := RenditionPath("live/src", ladder[0])
	var rd *hub.Reader
	require.Eventually(t, func() bool {
		rd, err = h.Subscribe(ctx, rendition, hub.ClientInfo{Protocol: "test"})
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the rendition never appeared")
	defer rd.Close()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go"), nil, 0o644))

	// What the rendition must hold, from the clip's video timestamps
	// (its keyframes every 2 s from its first frame).
	var first0, last0, last1 time.Duration
	var fromSecond []time.Duration // the second run's frames after last0
	// Frames only: AVC NALU tags (AVCPacketType 1, not the end of sequence).
	isFrame := func(tag flv.Tag) bool { return tag.Type == flv.TagVideo && len(tag.Body) > 1 && tag.Body[1] == 1 }
	for _, tag := range clip.Media {
		if !isFrame(tag) {
			continue
		}
		ts := time.Duration(tag.Timestamp) * time.Millisecond
		if ts < firstRun {
			last0 = ts
		}
		if first0 == 0 {
			first0 = ts
		}
		last1 = ts + 2*time.Second
	}
	for _, tag := range clip.Media {
		key := tag.Body[0]>>4 == 1 // FLV frame type 1: keyframe
		if ts := time.Duration(tag.Timestamp)*time.Millisecond + 2*time.Second; isFrame(tag) && ts > last0 && (key || len(fromSecond) > 0) {
			fromSecond = append(fromSecond, ts)
		}
	}

	type frame struct {
		dts     time.Duration
		key     bool
		discont bool
	}
	var video []frame
	var lastAudio time.Duration
	audio := 0
	for len(video) == 0 || video[len(video)-1].dts < last1 {
		pkts, err := rd.Read(ctx, nil)
		require.NoError(t, err, "rendition read; video so far: %v", video)
		for _, p := range pkts {
			if p.Kind() != av.KindVideo {
				require.Greater(t, p.DTS, lastAudio, "audio went back after %d packets", audio)
				lastAudio = p.DTS
				audio++
				continue
			}
			video = append(video, frame{p.DTS, p.Key, p.Discontinuity})
		}
	}
	require.True(t, video[0].key, "a reader starts at a keyframe")
	var restart int
	for i := 1; i < len(video); i++ {
		require.Greater(t, video[i].dts, video[i-1].dts, "video went back at %d: %v", i, video[max(0, i-3):i+1])
		if video[i].discont {
			require.Zero(t, restart, "one restart, one discontinuity")
			restart = i
		}
	}
	require.NotZero(t, restart, "the first frame after the restart is marked a discontinuity")
	require.Equal(t, frame{dts: last0}, video[restart-1], "last frame of the first run")
	require.Equal(t, frame{dts: fromSecond[0], key: true, discont: true}, video[restart],
		"first frame after the restart: the second run's first keyframe after %v, at its own timestamp", last0)
	require.Len(t, video[restart:], len(fromSecond), "the second run's frames from %v to %v, each once", fromSecond[0], last1)
	require.Equal(t, last1, video[len(video)-1].dts)
	for _, f := range video {
		if f.key {
			require.Zero(t, (f.dts-first0)%(2*time.Second), "keyframe at %v is off the source's 2 s grid (from %v)", f.dts, first0)
		}
	}
	t.Logf("first run up to %v, second run from its keyframe at %v (%d frames, %d audio packets in all)",
		last0, fromSecond[0], len(fromSecond), audio)
}
