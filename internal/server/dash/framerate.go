package dashserver

import (
	"math"
	"strconv"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// frameRate returns the video frame rate of init in as an MPD frameRate
// (ISO/IEC 23009-1 §5.3.12.2, FrameRateType: "25" or "30000/1001"),
// measured from the oldest complete segment of snap that uses it; ""
// when unknown. The packager counts each part's samples, so this costs
// no parse and needs no cache.
func frameRate(snap *packager.Snapshot, in *packager.Init) string {
	hasVideo := false
	for _, t := range in.Tracks {
		hasVideo = hasVideo || t.Kind() == av.KindVideo
	}
	if !hasVideo {
		return ""
	}
	for i := range snap.Segments {
		seg := &snap.Segments[i]
		if seg.Init == in && seg.Complete {
			return measureFrameRate(seg)
		}
	}
	return ""
}

// measureFrameRate counts the video samples of seg over its parts'
// durations (those of the video track, which leads when present).
func measureFrameRate(seg *packager.Segment) string {
	var frames int
	var d time.Duration
	for _, pt := range seg.Parts {
		frames += pt.Samples(trackVideo)
		d += pt.Duration
	}
	if frames < 2 || d <= 0 {
		return ""
	}
	return formatFrameRate(float64(frames) / d.Seconds())
}

// formatFrameRate rounds fps to an integer or an NTSC rate (N×1000/1001).
func formatFrameRate(fps float64) string {
	if r := math.Round(fps); math.Abs(fps-r) < 0.01*r {
		if ntsc := math.Round(fps*1.001) * 1000 / 1001; math.Abs(fps-ntsc) < math.Abs(fps-r) && math.Abs(fps-ntsc) < 0.002*ntsc {
			return strconv.Itoa(int(math.Round(fps*1.001))*1000) + "/1001"
		}
		return strconv.Itoa(int(r))
	}
	return ""
}
