package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// publishWithAudioAhead publishes clip over RTMP in real time, looping, as
// a hardware encoder whose audio clock runs ahead does: every tag is sent
// at its wall-clock time, audio stamped audioAhead later than the video
// sent with it, both from base on (32-bit RTMP timestamps, wrapping). It
// returns at once; publishing stops when ctx ends.
func publishWithAudioAhead(t *testing.T, ctx context.Context, url string, clip *replay.Clip, base, audioAhead time.Duration) {
	t.Helper()
	c, err := rtmp.Dial(ctx, url, nil)
	require.NoError(t, err)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	require.NoError(t, c.Publish(ctx))
	for _, tag := range clip.Config {
		typ := tag.Type
		if typ == flv.TagScript {
			typ = rtmp.MsgDataAMF0
		}
		require.NoError(t, c.WriteMessage(&rtmp.Message{Type: typ, Payload: tag.Body}))
	}
	go func() {
		defer stop()
		defer c.Close()
		start := time.Now()
		for loop := 0; ; loop++ {
			looped := time.Duration(loop) * clip.Duration
			for _, tag := range clip.Media {
				at := looped + time.Duration(tag.Timestamp)*time.Millisecond
				select {
				case <-time.After(time.Until(start.Add(at))):
				case <-ctx.Done():
					return
				}
				ts := at
				if tag.Type == flv.TagAudio {
					ts += audioAhead
				}
				stamp := uint32(int64((base + ts) / time.Millisecond)) // wraps as RTMP does
				if c.WriteMessage(&rtmp.Message{Type: tag.Type, Timestamp: stamp, Payload: tag.Body}) != nil {
					return
				}
			}
		}
	}()
}

// A publisher whose audio timestamps run 1.5 s ahead of its video (hardware
// encoders, OBS sync offsets): an HTTP-FLV viewer's video timeline advances
// at wall-clock speed and audio stays 1.5 s ahead of the video sent with
// it. Comparing audio and video with one "last timestamp" rebased on every
// video frame: in 8 s of wall time the video timeline advanced 364 s.
func TestAudioAheadOfVideoKeepsTheTimeline(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	const audioAhead = 1500 * time.Millisecond
	s := testutil.StartSluice(t, nil)
	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	publishWithAudioAhead(t, ctx, "rtmp://"+s.RTMPAddr+"/live/ahead", clip, 0, audioAhead)
	waitForStream(t, s, "live/ahead")

	st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/ahead.flv")
	require.NoError(t, err)
	type mark struct {
		ts   uint32
		wall time.Time
	}
	var first, last mark
	var lastAudio uint32
	var haveFirst bool
	opened := time.Now()
	for time.Since(opened) < 9*time.Second {
		tag, err := st.r.ReadTag()
		require.NoError(t, err)
		switch {
		case tag.Type == flv.TagAudio:
			lastAudio = tag.Timestamp
		case tag.Type != flv.TagVideo:
		case !haveFirst && time.Since(opened) > time.Second:
			// Past the start-up burst of the GOP cache.
			first, haveFirst = mark{tag.Timestamp, time.Now()}, true
		case haveFirst:
			last = mark{tag.Timestamp, time.Now()}
		}
	}
	require.True(t, haveFirst)
	media := time.Duration(last.ts-first.ts) * time.Millisecond
	wall := last.wall.Sub(first.wall)
	ratio := media.Seconds() / wall.Seconds()
	t.Logf("video timeline advanced %v in %v of wall time (×%.3f); audio at %d ms, video at %d ms",
		media, wall.Round(time.Millisecond), ratio, lastAudio, last.ts)
	require.InDelta(t, 1, ratio, 0.2, "video advanced %v in %v of wall time", media, wall)
	require.InDelta(t, float64(audioAhead/time.Millisecond), float64(lastAudio)-float64(last.ts), 150,
		"audio stays 1.5 s ahead of the video read with it")
	require.Empty(t, s.Logs("publisher timestamp jump rebased"), "an A/V offset is not a timestamp jump")
}

// The timeline starts at 0, whatever the encoder's clock says: a publisher
// whose 32-bit RTMP clock starts 6 s before its wrap reaches an HTTP-FLV
// viewer from 0 on, and its timestamps keep advancing steadily across the
// wrap (no jump back, no jump ahead).
func TestTimelineStartsAtZeroAndCrossesTheRTMPWrap(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	publishWithAudioAhead(t, ctx, "rtmp://"+s.RTMPAddr+"/live/wrap", clip, (1<<32-6000)*time.Millisecond, 0)
	waitForStream(t, s, "live/wrap")

	st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/wrap.flv")
	require.NoError(t, err)
	var video []uint32
	for opened := time.Now(); time.Since(opened) < 9*time.Second; {
		tag, err := st.r.ReadTag()
		require.NoError(t, err)
		if tag.Type == flv.TagVideo {
			video = append(video, tag.Timestamp)
		}
	}
	require.NotEmpty(t, video)
	t.Logf("%d video tags, %d ms to %d ms", len(video), video[0], video[len(video)-1])
	require.Less(t, video[0], uint32(6000), "the viewer starts near the timeline's 0 (the publisher's clock said %d ms)", uint32(1<<32-6000))
	for i := 1; i < len(video); i++ {
		step := int64(video[i]) - int64(video[i-1])
		require.True(t, step >= 0 && step <= 500, "video tag %d: %d ms after %d ms", i, video[i], video[i-1])
	}
	require.Greater(t, video[len(video)-1]-video[0], uint32(7000), "9 s of reading cover the wrap")
}
