package dashserver

import (
	"math"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// maxFPSCache bounds the frame-rate cache (one entry per init section).
const maxFPSCache = 256

// frameRate returns the video frame rate of init in as an MPD frameRate
// (ISO/IEC 23009-1 §5.3.12.2, FrameRateType: "25" or "30000/1001"),
// measured from the first complete segment of snap that uses it; "" when
// unknown. Results are cached per init section.
func (s *Server) frameRate(snap *packager.Snapshot, in *packager.Init) string {
	s.fpsMu.Lock()
	if v, ok := s.fps[in]; ok {
		s.fpsMu.Unlock()
		return v
	}
	s.fpsMu.Unlock()
	hasVideo := false
	for _, t := range in.Tracks {
		hasVideo = hasVideo || t.Kind() == av.KindVideo
	}
	if !hasVideo {
		return ""
	}
	for i := range snap.Segments {
		seg := &snap.Segments[i]
		if seg.Init != in || !seg.Complete {
			continue
		}
		v := measureFrameRate(seg)
		if v == "" {
			return ""
		}
		s.fpsMu.Lock()
		if s.fps == nil || len(s.fps) >= maxFPSCache {
			s.fps = make(map[*packager.Init]string)
		}
		s.fps[in] = v
		s.fpsMu.Unlock()
		return v
	}
	return ""
}

// measureFrameRate counts the video samples (track 1, 90 kHz) of seg.
func measureFrameRate(seg *packager.Segment) string {
	var frames, ticks uint64
	for _, pt := range seg.Parts {
		var parts fmp4.Parts
		if err := parts.Unmarshal(pt.Data); err != nil {
			return ""
		}
		for _, p := range parts {
			for _, tr := range p.Tracks {
				if tr.ID != 1 {
					continue
				}
				for _, smp := range tr.Samples {
					frames++
					ticks += uint64(smp.Duration)
				}
			}
		}
	}
	if frames < 2 || ticks == 0 {
		return ""
	}
	return formatFrameRate(float64(frames) * 90000 / float64(ticks))
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
