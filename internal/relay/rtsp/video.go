package rtsp

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/relay/ingest"
)

// videoClockRate is the RTP clock of H.264 and H.265 (RFC 6184 §8.2.1,
// RFC 7798 §7.1), the unit of gortsplib's PTS and of mediacommon's DTS
// extractors.
const videoClockRate = 90000

// dtsExtractor is mediacommon's H.264/H.265 DTS extractor.
type dtsExtractor interface {
	Extract(au [][]byte, pts int64) (int64, error)
}

// videoTrack turns one H.264/H.265 track's RTP packets into hub packets.
// RTP carries only presentation time (RFC 6184 §5.1); with B-frames the
// decoding time differs, so it is recovered from the slices' picture order
// counts by mediacommon's DTS extractor, which needs the SPS (and for
// H.265 the PPS) in the access unit it starts on: a camera that sends
// them only in the SDP gets them prepended at each keyframe, one that
// sends them only in band is served by av.NALUIngest, which learns them
// from the stream.
type videoTrack struct {
	w        *ingest.Writer
	ing      *av.NALUIngest
	decode   func(*rtp.Packet) ([][]byte, error)
	needMore func(error) bool
	dts      dtsExtractor // nil until the first keyframe with a track
}

func (v *videoTrack) handle(pkt *rtp.Packet, pts int64) {
	au, err := v.decode(pkt)
	if err != nil {
		if !v.needMore(err) {
			v.w.Bad(fmt.Errorf("%s RTP: %w", v.ing.Codec, err))
		}
		return
	}
	v.accessUnit(au, pts)
}

// accessUnit publishes one depacketized access unit presented at pts
// (90 kHz).
func (v *videoTrack) accessUnit(au [][]byte, pts int64) {
	data, key, track, err := v.ing.Convert(au)
	if err != nil {
		v.w.Bad(err)
		return
	}
	if track == nil || data == nil {
		return // before the first keyframe with parameter sets
	}
	if v.dts == nil {
		if !key {
			return
		}
		v.dts = v.newExtractor()
	}
	dtsAU := au
	if key {
		dtsAU = v.withParams(au)
	}
	dts, err := v.dts.Extract(dtsAU, pts)
	if err != nil {
		// A lost slice or an unsupported stream: start again at the
		// next keyframe.
		v.dts = nil
		v.w.Bad(fmt.Errorf("%s DTS: %w", v.ing.Codec, err))
		return
	}
	v.w.Packet(track, data, key, ingest.Duration(pts, videoClockRate), ingest.Duration(dts, videoClockRate))
}

func (v *videoTrack) newExtractor() dtsExtractor {
	if v.ing.Codec == av.CodecH265 {
		d := &h265.DTSExtractor{}
		d.Initialize()
		return d
	}
	d := &h264.DTSExtractor{}
	d.Initialize()
	return d
}

// withParams returns au with the known parameter sets in front when it
// lacks them.
func (v *videoTrack) withParams(au [][]byte) [][]byte {
	vps, sps, pps := v.ing.Params()
	for _, n := range au {
		if v.ing.Codec == av.CodecH265 {
			if h265.NALUType(n[0]>>1&0x3f) == h265.NALUType_SPS_NUT {
				return au
			}
		} else if h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			return au
		}
	}
	ps := [][]byte{sps, pps}
	if v.ing.Codec == av.CodecH265 {
		ps = [][]byte{vps, sps, pps}
	}
	return append(ps, au...)
}
