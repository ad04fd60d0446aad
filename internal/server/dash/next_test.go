package dashserver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// The open end of a live timeline (<S d r="-1"/>) addresses the segment
// after the one being written; the server maps that time onto its MSN
// and accepts the real segment when it starts near the prediction.
// matched is whether a nextSegmentAt match accepted the segment.
func matched(ok bool, _ time.Duration) bool { return ok }

func TestNextSegmentAt(t *testing.T) {
	in := &packager.Init{ID: 0, Tracks: []*av.Track{testVideo, testAudio}, Start: 10 * time.Second}
	snap := &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0a1b2c3d", Segments: testSegments(in, 5, 10*time.Second, 4, false),
		TargetDuration: 2 * time.Second, PartTarget: 200 * time.Millisecond,
	}
	// Segments 5..8 start at 10, 12, 14, 16 s (8 being written, announced
	// 2 s long): the open run starts at 18 s.
	m := buildMPD(snap, testOptions())
	tl := m.Periods[0].AdaptationSets[0].SegmentTemplate.SegmentTimeline.S
	require.Equal(t, S{D: 180000, R: -1}, tl[len(tl)-1], "open run after the listed segments")

	_, ok := segmentAt(snap, ticks(18*time.Second, 90000), -1)
	require.False(t, ok, "18 s is not listed")
	msn, near, ok := nextSegmentAt(snap, ticks(18*time.Second, 90000), -1)
	require.True(t, ok)
	require.Equal(t, uint64(9), msn)
	seg := packager.Segment{MSN: 9, Init: in, Start: 18*time.Second + 33*time.Millisecond}
	require.True(t, matched(near(&seg)), "a frame later than predicted (a longer GOP) is the same segment")
	seg.Start = 19500 * time.Millisecond
	require.False(t, matched(near(&seg)), "1.5 s later is not what the client asked for")
	seg.Start, seg.Init = 18*time.Second, &packager.Init{ID: 1}
	require.False(t, matched(near(&seg)), "a new Period's segment")
	// A republish after a 3 s outage: the hub continued the timeline, the
	// packager moved the clock (a new Period). The old Period's client gets
	// the new publisher's first segment shifted by the clocks' difference.
	seg = packager.Segment{MSN: 9, Init: in, Start: 18*time.Second + 40*time.Millisecond, Epoch: 18*time.Second + 40*time.Millisecond,
		Discontinuity: true, ProgramDateTime: testEpoch.Add(21 * time.Second)}
	ok, shift := near(&seg)
	require.True(t, ok, "the first segment of a new clock, asked for from the old Period's open end")
	require.Equal(t, 3*time.Second-40*time.Millisecond, shift, "shift: the new clock's lead over the old")
	seg.MSN, seg.Start, seg.Epoch, seg.Discontinuity = 9, 18*time.Second, 16*time.Second, false
	ok, _ = near(&seg)
	require.False(t, ok, "a segment of a new clock that is not its first")

	// A client whose MPD predates segment 8 predicted it at 16 s + jitter.
	msn, near, ok = nextSegmentAt(snap, ticks(16*time.Second+time.Millisecond, 90000), -1)
	require.True(t, ok)
	require.Equal(t, uint64(8), msn)
	require.True(t, matched(near(&snap.Segments[3])))

	for _, bad := range []time.Duration{17 * time.Second, 20 * time.Second, 30 * time.Second} {
		_, _, ok := nextSegmentAt(snap, ticks(bad, 90000), -1)
		require.False(t, ok, "%s addresses no segment", bad)
	}
	snap.Ended = true
	_, _, ok = nextSegmentAt(snap, ticks(18*time.Second, 90000), -1)
	require.False(t, ok, "an ended stream has no next segment")
	m = buildMPD(snap, testOptions())
	tl = m.Periods[0].AdaptationSets[0].SegmentTemplate.SegmentTimeline.S
	require.NotEqual(t, -1, tl[len(tl)-1].R, "an ended stream's timeline is closed")
}
