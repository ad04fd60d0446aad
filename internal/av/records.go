package av

import (
	"encoding/binary"
	"errors"

	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	mch265 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// HEVCConfigRecord builds an HEVCDecoderConfigurationRecord (ISO/IEC
// 14496-15 §8.3.3.1.2) with one VPS, SPS and PPS and 4-byte NAL unit
// lengths; the profile, tier and level bytes are the SPS's
// profile_tier_level (H.265 §7.3.3), the chroma format and bit depths its
// decoded fields.
func HEVCConfigRecord(vps, sps, pps []byte) ([]byte, error) {
	var s mch265.SPS
	if err := s.Unmarshal(sps); err != nil {
		return nil, err
	}
	rbsp := mch264.EmulationPreventionRemove(sps)
	if len(rbsp) < 15 {
		return nil, errors.New("h265: SPS too short")
	}
	b := make([]byte, 0, 23+3*5+len(vps)+len(sps)+len(pps))
	b = append(b, 1)
	b = append(b, rbsp[3:15]...) // profile space/tier/idc, compatibility, constraints, level
	b = append(b, 0xf0, 0x00, 0xfc, 0xfc|byte(s.ChromaFormatIdc&3),
		0xf8|byte(s.BitDepthLumaMinus8&7), 0xf8|byte(s.BitDepthChromaMinus8&7), 0, 0)
	nested := byte(0)
	if s.TemporalIDNestingFlag {
		nested = 1
	}
	b = append(b, (s.MaxSubLayersMinus1+1)&7<<3|nested<<2|3, 3)
	for _, ps := range []struct {
		typ  byte
		nalu []byte
	}{{32, vps}, {33, sps}, {34, pps}} { // NAL unit types (H.265 Table 7-1)
		b = append(b, 0x80|ps.typ, 0, 1)
		b = binary.BigEndian.AppendUint16(b, uint16(len(ps.nalu)))
		b = append(b, ps.nalu...)
	}
	return b, nil
}

// AVCConfigRecord builds an AVCDecoderConfigurationRecord (ISO/IEC
// 14496-15 §5.3.3.1.2) with one SPS and PPS and 4-byte NAL unit lengths;
// the profile, compatibility and level bytes are the SPS's, and the high
// profiles' chroma format and bit depths come from its decoded fields.
func AVCConfigRecord(sps, pps []byte) ([]byte, error) {
	if len(sps) < 4 || len(pps) == 0 {
		return nil, errors.New("h264: SPS or PPS too short")
	}
	var s mch264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 11+len(sps)+len(pps)+4)
	b = append(b, 1, sps[1], sps[2], sps[3], 0xfc|3, 0xe0|1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	b = append(b, pps...)
	switch sps[1] {
	case 100, 110, 122, 144: // §5.3.3.1.2: the extension for high profiles
		b = append(b, 0xfc|byte(s.ChromaFormatIdc&3), 0xf8|byte(s.BitDepthLumaMinus8&7),
			0xf8|byte(s.BitDepthChromaMinus8&7), 0)
	}
	return b, nil
}
