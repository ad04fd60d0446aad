package dashserver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// TestMPDLeavesGapsOut: gap segments (media time a rendition skipped) are
// left out of the SegmentTimeline — the segment after the gap starts an S
// element with its own t — and the segment before keeps its duration.
func TestMPDLeavesGapsOut(t *testing.T) {
	in := &packager.Init{ID: 0, Tracks: []*av.Track{testVideo, testAudio}, Start: 10 * time.Second}
	segs := testSegments(in, 5, 10*time.Second, 6, false)
	for i := 2; i <= 3; i++ { // 14 s..18 s skipped
		segs[i].Gap, segs[i].Parts, segs[i].Init = true, nil, nil
	}
	snap := &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0a1b2c3d", Segments: segs,
		TargetDuration: 2 * time.Second, PartTarget: 200 * time.Millisecond,
	}
	m := buildMPD(snap, testOptions())
	require.Len(t, m.Periods, 1, "one init, one Period")
	for _, as := range m.Periods[0].AdaptationSets {
		tl := as.SegmentTemplate.SegmentTimeline.S
		var starts []uint64
		var at uint64
		for _, s := range tl {
			if s.T != nil {
				at = *s.T
			}
			for r := 0; r <= int(s.R); r++ {
				starts = append(starts, at)
				require.Equal(t, uint64(2*90000), s.D, "every listed segment lasts 2 s")
				at += s.D
			}
		}
		sec := uint64(90000)
		require.Equal(t, []uint64{10 * sec, 12 * sec, 18 * sec, 20 * sec}, starts, "timeline %+v", tl)
	}
	require.False(t, segs[4].Discontinuity, "the snapshot's segments are not modified")
}
