package av

import (
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
)

// AV1 OBU types (AV1 spec §6.2.2).
const (
	OBUSequenceHeader    = 1
	OBUTemporalDelimiter = 2
)

// ForEachOBU walks AV1 OBUs in low-overhead bitstream format (AV1 §5.3),
// as a temporal unit or an av1C's configOBUs carries them, calling fn with
// each OBU's type, header (1 byte, or 2 with obu_extension_flag) and
// payload until fn returns false. An OBU without obu_has_size_field runs
// to the end of b.
func ForEachOBU(b []byte, fn func(typ byte, header, payload []byte) bool) error {
	for len(b) > 0 {
		hdr := b[0]
		if hdr&0x80 != 0 {
			return errors.New("av1: OBU forbidden bit set")
		}
		n := 1
		if hdr&0x04 != 0 { // obu_extension_flag
			n++
		}
		if len(b) < n {
			return errors.New("av1: truncated OBU header")
		}
		header := b[:n]
		size := len(b) - n
		if hdr&0x02 != 0 { // obu_has_size_field
			var l av1.LEB128
			m, err := l.Unmarshal(b[n:])
			if err != nil {
				return fmt.Errorf("av1: OBU size: %w", err)
			}
			n += m
			if uint64(l) > uint64(len(b)-n) {
				return fmt.Errorf("av1: OBU of %d bytes exceeds its buffer", l)
			}
			size = int(l)
		}
		payload := b[n : n+size]
		b = b[n+size:]
		if !fn((hdr>>3)&0x0f, header, payload) {
			return nil
		}
	}
	return nil
}

// AppendOBU appends one OBU with obu_has_size_field set and its leb128
// size, the form the hub carries.
func AppendOBU(dst, header, payload []byte) []byte {
	dst = append(dst, header[0]|0x02)
	dst = append(dst, header[1:]...)
	l := av1.LEB128(len(payload))
	size := make([]byte, l.MarshalSize())
	l.MarshalTo(size)
	dst = append(dst, size...)
	return append(dst, payload...)
}

// parseSequenceHeader decodes a sequence header OBU's payload (mediacommon
// wants a one-byte header without extension: one is rebuilt).
func parseSequenceHeader(header, payload []byte) (av1.SequenceHeader, error) {
	obu := make([]byte, 1+len(payload))
	obu[0] = header[0] &^ 0x06
	copy(obu[1:], payload)
	var sh av1.SequenceHeader
	err := sh.Unmarshal(obu)
	return sh, err
}

// AV1ConfigRecord builds an AV1CodecConfigurationRecord (AV1 in ISOBMFF
// §2.3.3) around one sequence header OBU given as header and payload.
func AV1ConfigRecord(header, payload []byte) ([]byte, error) {
	sh, err := parseSequenceHeader(header, payload)
	if err != nil {
		return nil, fmt.Errorf("av1: sequence header: %w", err)
	}
	var level uint8
	var tier bool
	if len(sh.SeqLevelIdx) > 0 {
		level = sh.SeqLevelIdx[0]
	}
	if len(sh.SeqTier) > 0 {
		tier = sh.SeqTier[0]
	}
	bit := func(v bool, shift uint) byte {
		if v {
			return 1 << shift
		}
		return 0
	}
	c := sh.ColorConfig
	rec := []byte{
		0x81, // marker, version 1
		sh.SeqProfile<<5 | level&0x1f,
		bit(tier, 7) | bit(c.HighBitDepth, 6) | bit(c.TwelveBit, 5) | bit(c.MonoChrome, 4) |
			bit(c.SubsamplingX, 3) | bit(c.SubsamplingY, 2) | byte(c.ChromaSamplePosition)&3,
		0, // no initial_presentation_delay
	}
	return AppendOBU(rec, header, payload), nil
}
