package packager

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// msFeed writes until of video at fps (a keyframe every gop frames) and
// 48 kHz AAC, interleaved by DTS, with timestamps rounded to whole
// milliseconds as RTMP/FLV carries them.
func msFeed(t *testing.T, p *Packager, video, audio *av.Track, fps float64, gop int, until time.Duration) {
	t.Helper()
	vn, an := 0, 0
	vts := func(n int) time.Duration { return time.Duration(math.Round(float64(n)*1000/fps)) * time.Millisecond }
	ats := func(n int) time.Duration {
		return (time.Duration(n) * 1024 * time.Second / 48000).Round(time.Millisecond)
	}
	for {
		vt, at := vts(vn), ats(an)
		if vt >= until && at >= until {
			return
		}
		var pkt *av.Packet
		if vt <= at {
			key := vn%gop == 0
			pkt = &av.Packet{Track: video, DTS: vt, PTS: vt, Key: key, Data: frame(key)}
			vn++
		} else {
			pkt = &av.Packet{Track: audio, DTS: at, PTS: at, Key: true, Data: []byte{0x21, 0x10, 0x04}}
			an++
		}
		require.NoError(t, p.WritePacket(pkt))
	}
}

// TestPartsTileSegments: with millisecond timestamps (RTMP) and GOPs of
// the segment duration, every segment is made of equal parts of whole
// frames, none longer than PART-TARGET and none a runt — old main cut a
// 30 fps stream's 2 s segments into 5 frames, nine of 6, and a 1-frame
// (33 ms) last part, on which hls.js stalled (hls.js issue #5028).
func TestPartsTileSegments(t *testing.T) {
	cases := []struct {
		fps       float64
		gop       int
		parts     int // per 2 s segment
		minPart   time.Duration
		tolerance time.Duration // part durations differ by at most this
	}{
		{30, 60, 10, 200 * time.Millisecond, 0},
		{29.97, 60, 10, 199 * time.Millisecond, time.Millisecond},
		{25, 50, 10, 200 * time.Millisecond, 0},
		{24, 48, 12, 166 * time.Millisecond, time.Millisecond},
		{60, 120, 10, 200 * time.Millisecond, 0},
		{59.94, 120, 10, 199 * time.Millisecond, time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%gfps", tc.fps), func(t *testing.T) {
			video, _ := testTracks(t)
			audio, err := av.NewTrack(av.CodecAAC, []byte{0x11, 0x90}) // AAC-LC 48 kHz stereo
			require.NoError(t, err)
			p := New(Options{})
			require.NoError(t, p.SetTracks(video, audio))
			msFeed(t, p, video, audio, tc.fps, tc.gop, 20*time.Second)
			snap := p.Snapshot()
			complete := 0
			for _, s := range snap.Segments {
				if !s.Complete {
					continue
				}
				complete++
				require.Len(t, s.Parts, tc.parts, "segment %d parts: %v", s.MSN, partDurations(s))
				var sum time.Duration
				for _, part := range s.Parts {
					require.LessOrEqual(t, part.Duration, snap.PartTarget, "part %d.%d longer than PART-TARGET", s.MSN, part.Index)
					require.GreaterOrEqual(t, part.Duration, tc.minPart, "part %d.%d: %v", s.MSN, part.Index, partDurations(s))
					require.InDelta(t, s.Parts[0].Duration, part.Duration, float64(tc.tolerance), "part %d.%d: %v", s.MSN, part.Index, partDurations(s))
					sum += part.Duration
				}
				require.Equal(t, s.Duration, sum, "segment %d: parts add up to the segment", s.MSN)
				require.True(t, s.Parts[0].Independent)
			}
			require.GreaterOrEqual(t, complete, 7)
			require.Equal(t, 201*time.Millisecond, snap.PartTarget, "PART-TARGET: part duration + 1 ms timestamp resolution")
			checkContinuity(t, snap.Segments)
		})
	}
}

// TestPartNeverExceedsTarget: a frame arriving later than the mean
// frame duration predicts closes the part before it, so no part is ever
// longer than PART-TARGET (RFC 8216bis §4.4.4.9).
func TestPartNeverExceedsTarget(t *testing.T) {
	video, _ := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, nil))
	// Variable frame rate: 20 ms frames with an 80 ms gap every seventh.
	var ts time.Duration
	for n := 0; n < 400; n++ {
		key := n%100 == 0
		require.NoError(t, p.WritePacket(&av.Packet{Track: video, DTS: ts, PTS: ts, Key: key, Data: frame(key)}))
		if n%7 == 6 {
			ts += 80 * time.Millisecond
		} else {
			ts += 20 * time.Millisecond
		}
	}
	snap := p.Snapshot()
	parts := 0
	for _, s := range snap.Segments {
		for _, part := range s.Parts {
			parts++
			require.LessOrEqual(t, part.Duration, snap.PartTarget, "part %d.%d: %v", s.MSN, part.Index, partDurations(s))
		}
	}
	require.Greater(t, parts, 30)
}

func partDurations(s Segment) []string {
	var out []string
	for _, p := range s.Parts {
		out = append(out, p.Duration.String())
	}
	return out
}

// TestTargetDurationNeverChanges: EXT-X-TARGETDURATION is picked when the
// first segment completes and never changes (RFC 8216 §6.2.1), even when
// the publisher's GOP grows beyond it: segments are cut without a
// keyframe instead, so none rounds to more than the target (old main
// raised the target to the new GOP's 6 s mid-stream).
func TestTargetDurationNeverChanges(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50} // 2 s
	f.feed(t, p, 6*time.Second)
	require.Equal(t, 2*time.Second, p.Snapshot().TargetDuration)
	f.gop = 150 // 6 s from now on: frames 150, 300, ... are keyframes
	for f.vts(f.vn) < 40*time.Second {
		f.feed(t, p, f.vts(f.vn)+time.Second)
		require.Equal(t, 2*time.Second, p.Snapshot().TargetDuration, "at %s", f.vts(f.vn))
	}
	snap := p.Snapshot()
	unkeyed := 0
	for _, s := range snap.Segments {
		if !s.Complete {
			continue
		}
		require.LessOrEqual(t, s.Duration.Round(time.Second), snap.TargetDuration, "segment %d lasts %s", s.MSN, s.Duration)
		if !s.Parts[0].Independent {
			unkeyed++
		}
	}
	require.Positive(t, unkeyed, "segments cut between keyframes")
	checkContinuity(t, snap.Segments)
}
