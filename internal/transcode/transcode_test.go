package transcode

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

var ladder = []Rung{
	{Name: "240p", Height: 240, VideoBitrate: 400_000},
	{Name: "180p", Width: 320, Height: 180, VideoBitrate: 250_000, AudioBitrate: 64_000},
	{Name: "120p", Height: 120, VideoBitrate: 150_000, MaxFPS: 15},
}

func TestArgsForceAlignedKeyframes(t *testing.T) {
	args := ffmpegArgs(ladder, 2*time.Second, true)
	joined := " " + stringsJoin(args) + " "
	require.Contains(t, joined, " -copyts ")
	require.Contains(t, joined, "[0:v]split=3[s0][s1][s2];[s0]scale=-2:240[v0];[s1]scale=320:180[v1];[s2]fps=15,scale=-2:120[v2]")
	require.Contains(t, joined, " -force_key_frames expr:gte(t,n_forced*2) -sc_threshold 0 ")
	require.Contains(t, joined, " -c:a copy ")
	require.Contains(t, joined, " -c:a aac -b:a 64000 ")
	for _, fd := range []string{"pipe:3", "pipe:4", "pipe:5"} {
		require.Contains(t, joined, " "+fd+" ")
	}
}

func stringsJoin(a []string) string {
	out := ""
	for i, s := range a {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}

// publishClip writes a 6 s ffmpeg-made clip into the hub in real time.
func publishClip(ctx context.Context, t *testing.T, h *hub.Hub, path string) {
	t.Helper()
	publishClipFor(ctx, t, h, path, 6*time.Second)
}

// publishClipFor writes an ffmpeg-made clip of duration dur into the hub in
// real time.
func publishClipFor(ctx context.Context, t *testing.T, h *hub.Hub, path string, dur time.Duration) {
	t.Helper()
	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{Size: "640x360", Duration: dur}))
	require.NoError(t, err)
	publishLoadedClip(ctx, t, h, path, clip)
}

// publishLoadedClip writes clip into the hub in real time.
func publishLoadedClip(ctx context.Context, t *testing.T, h *hub.Hub, path string, clip *replay.Clip) {
	t.Helper()
	pub, err := h.Publish(path, hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	var d flv.Demuxer
	for _, tag := range clip.Config {
		if tag.Type == flv.TagVideo {
			_, err = d.Video(int64(tag.Timestamp), tag.Body)
		} else if tag.Type == flv.TagAudio {
			_, err = d.Audio(int64(tag.Timestamp), tag.Body)
		}
		require.NoError(t, err)
	}
	pub.Announce(true, true)
	go func() {
		defer pub.Close("clip done")
		start := time.Now()
		for _, tag := range clip.Media {
			if d := time.Until(start.Add(time.Duration(tag.Timestamp) * time.Millisecond)); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return
				}
			}
			var p *av.Packet
			if tag.Type == flv.TagVideo {
				p, _ = d.Video(int64(tag.Timestamp), tag.Body)
			} else {
				p, _ = d.Audio(int64(tag.Timestamp), tag.Body)
			}
			if p != nil && pub.WritePacket(p) != nil {
				return
			}
		}
	}()
}

// TestLadderPublishesAlignedRenditions runs the real ffmpeg: every rung
// appears as its own stream with the configured size, and keyframes fall on
// the same timestamps in every rendition.
func TestLadderPublishesAlignedRenditions(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var m *Manager
	h := hub.New(hub.Options{Logger: quiet, RepublishGrace: 200 * time.Millisecond, OnStreamStart: func(p string) { m.StreamStarted(p) }})
	m = New(Options{Hub: h, Ladder: func(p string) []Rung {
		if p == "live/src" {
			return ladder
		}
		return nil
	}, Logger: quiet})
	defer m.Close()
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Long enough that the renditions, read one after the other (two
	// keyframes each), are still live on a loaded machine.
	publishClipFor(ctx, t, h, "live/src", 15*time.Second)

	wantSize := map[string][2]int{"240p": {426, 240}, "180p": {320, 180}, "120p": {214, 120}}
	keyTimes := map[string][]time.Duration{}
	for _, r := range ladder {
		path := RenditionPath("live/src", r)
		var reader *hub.Reader
		require.Eventually(t, func() bool {
			var err error
			reader, err = h.Subscribe(ctx, path, hub.ClientInfo{Protocol: "test"})
			return err == nil
		}, 20*time.Second, 50*time.Millisecond, "rendition %s never appeared", path)
		defer reader.Close()
		var keys []time.Duration
		buf := make([]*av.Packet, 0, 64)
		for len(keys) < 2 {
			out, err := reader.Read(ctx, buf[:0])
			require.NoError(t, err, "reading %s", path)
			for _, p := range out {
				if p.Kind() != av.KindVideo {
					continue
				}
				require.Equal(t, wantSize[r.Name], [2]int{p.Track.Width, p.Track.Height}, "%s size", path)
				if p.Key {
					keys = append(keys, p.DTS)
				}
			}
		}
		keyTimes[r.Name] = keys
	}
	// Readers start at each rendition's newest keyframe; compare on the
	// 2 s grid: every keyframe sits on a multiple of the GOP.
	for name, keys := range keyTimes {
		for _, k := range keys {
			off := k % (2 * time.Second)
			require.True(t, off < 50*time.Millisecond || off > 2*time.Second-50*time.Millisecond,
				"%s keyframe at %s is off the 2 s grid", name, k)
		}
	}
	jobs := m.Jobs()
	require.Len(t, jobs, 1)
	require.Len(t, jobs[0].Renditions, 3)
}

func TestRestartOverlapIsDropped(t *testing.T) {
	v := &av.Track{Codec: av.CodecH264}
	a := &av.Track{Codec: av.CodecAAC}
	pk := func(tr *av.Track, ms int, key bool) *av.Packet {
		return &av.Packet{Track: tr, DTS: time.Duration(ms) * time.Millisecond, Key: key}
	}
	st := &rungState{}
	for _, p := range []*av.Packet{pk(v, 0, true), pk(a, 10, true), pk(v, 40, false), pk(a, 33, true)} {
		require.False(t, st.overlaps(p))
	}
	// ffmpeg restarted: its output starts again at the keyframe at 0.
	st.needKey = true
	require.True(t, st.overlaps(pk(v, 0, true)), "already published")
	require.True(t, st.overlaps(pk(a, 20, true)), "audio before the next keyframe")
	require.True(t, st.overlaps(pk(v, 80, false)), "not a keyframe")
	restartKey := pk(v, 2000, true)
	require.False(t, st.overlaps(restartKey), "new keyframe after the last output")
	require.True(t, restartKey.Discontinuity, "the first frame after a restart is marked a discontinuity")
	require.False(t, st.overlaps(pk(a, 2010, true)))
	require.True(t, st.overlaps(pk(a, 2000, true)), "audio must not go back")
}
