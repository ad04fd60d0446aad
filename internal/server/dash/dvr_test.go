package dashserver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// A DVR window: the timeShiftBufferDepth is the window once the listed
// segments cover it, and the SegmentTimeline covers every listed segment.
func TestMPDDVRWindow(t *testing.T) {
	in := &packager.Init{ID: 0, Tracks: []*av.Track{testVideo, testAudio}, Start: 10 * time.Second}
	// 31 complete 2 s segments (62 s) and the open one, window 60 s.
	snap := &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0a1b2c3d", Segments: testSegments(in, 5, 10*time.Second, 32, false),
		TargetDuration: 2 * time.Second, PartTarget: 201 * time.Millisecond, Origin: testEpoch, DVRWindow: time.Minute,
	}
	m := buildMPD(snap, testOptions())
	require.Equal(t, "PT60S", m.TimeShiftBufferDepth)
	require.Len(t, m.Periods, 1)
	tl := m.Periods[0].AdaptationSets[0].SegmentTemplate.SegmentTimeline
	require.NotNil(t, tl.S[0].T)
	require.Equal(t, uint64(10*90000), *tl.S[0].T, "timeline starts at the oldest listed segment")
	n := 0
	for _, s := range tl.S {
		if s.R >= 0 {
			n += 1 + s.R
		}
	}
	require.Equal(t, 32, n, "every listed segment (and the open one) on the timeline")

	// A young stream: the depth is what is listed.
	snap = &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0a1b2c3d", Segments: testSegments(in, 5, 10*time.Second, 6, false),
		TargetDuration: 2 * time.Second, PartTarget: 201 * time.Millisecond, Origin: testEpoch, DVRWindow: time.Minute,
	}
	require.Equal(t, "PT10S", buildMPD(snap, testOptions()).TimeShiftBufferDepth)
}
