package dashserver

import (
	"github.com/sluicemedia/sluice/internal/packager"
)

// Track IDs the packager gives its tracks; DASH files name them v and a.
const (
	trackVideo = packager.TrackVideo
	trackAudio = packager.TrackAudio
)

// DASH clients want one media component per AdaptationSet (ffmpeg's DASH
// demuxer assigns every packet of a Representation to its first stream;
// dash.js refuses muxed Representations; DASH-IF IOP §3.2.2). The
// packager writes each part's per-track fragments along with the muxed
// one, sharing its sample bytes (packager.Part.Fragment), so DASH
// re-parses and copies nothing and keeps nothing of its own per stream.

// trackSegment returns track id's fragments of parts, in order, as
// buffers to write (header, payload, header, ...).
func trackSegment(parts []*packager.Part, id int) [][]byte {
	bufs := make([][]byte, 0, 2*len(parts))
	for _, pt := range parts {
		h, d := pt.Fragment(id)
		if len(h) > 0 {
			bufs = append(bufs, h, d)
		}
	}
	return bufs
}

// trackBytes is the size of track id's fragments of seg.
func trackBytes(seg *packager.Segment, id int) int {
	n := 0
	for _, pt := range seg.Parts {
		n += pt.FragmentSize(id)
	}
	return n
}
