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
