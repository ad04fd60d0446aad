package thumbnail

import (
	"errors"
	"fmt"

	"github.com/sluicemedia/sluice/internal/av"
)

// errCodec: the keyframe's codec has no elementary-stream form here.
var errCodec = errors.New("thumbnail: no decoder input for this codec")

// elementaryStream returns the ffmpeg input format and the bytes of a
// byte stream that decodes to exactly the keyframe key: its decoder
// configuration (parameter sets, AV1 sequence header) in band, then the
// frame. Raw elementary streams rather than FLV because Debian's ffmpeg
// (5.1) reads no Enhanced-RTMP FLV, so H.265 and AV1 would not decode.
func elementaryStream(key *av.Packet) (format string, b []byte, err error) {
	t := key.Track
	switch t.Codec {
	case av.CodecH264:
		// ITU-T H.264 Annex B: start codes, SPS and PPS before the IDR.
		sps, pps, err := av.H264ParameterSets(t.Config)
		if err != nil {
			return "", nil, fmt.Errorf("thumbnail: h264 config: %w", err)
		}
		b = appendNALUs(nil, sps, pps)
		b, err = av.AVCCToAnnexB(b, key.Data)
		return "h264", b, err
	case av.CodecH265:
		// ITU-T H.265 Annex B: VPS, SPS and PPS before the IRAP picture.
		vps, sps, pps, err := av.H265ParameterSets(t.Config)
		if err != nil {
			return "", nil, fmt.Errorf("thumbnail: h265 config: %w", err)
		}
		b = appendNALUs(nil, vps, sps, pps)
		b, err = av.AVCCToAnnexB(b, key.Data)
		return "hevc", b, err
	case av.CodecAV1:
		// AV1 §5.3 low-overhead format: a temporal delimiter, the
		// sequence header (from the av1C's configOBUs, AV1-ISOBMFF §2.3,
		// unless the temporal unit carries one) and the temporal unit.
		b = []byte{av.OBUTemporalDelimiter<<3 | 0x02, 0}
		var hasSeq bool
		if err := av.ForEachOBU(key.Data, func(typ byte, _, _ []byte) bool {
			hasSeq = hasSeq || typ == av.OBUSequenceHeader
			return true
		}); err != nil {
			return "", nil, fmt.Errorf("thumbnail: av1 frame: %w", err)
		}
		if !hasSeq && len(t.Config) > 4 {
			b = append(b, t.Config[4:]...)
		}
		tu := key.Data
		if len(tu) >= 2 && tu[0]>>3&0x0f == av.OBUTemporalDelimiter {
			tu = tu[2:] // ours comes first
		}
		return "obu", append(b, tu...), nil
	}
	return "", nil, fmt.Errorf("%w: %s", errCodec, t.Codec)
}

// appendNALUs appends every NAL unit of every set with a 4-byte start
// code.
func appendNALUs(dst []byte, sets ...[][]byte) []byte {
	for _, set := range sets {
		for _, n := range set {
			dst = append(append(dst, 0, 0, 0, 1), n...)
		}
	}
	return dst
}
