package av

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// ErrMalformedConfig is wrapped by every NewTrack error caused by a decoder
// configuration that cannot be parsed.
var ErrMalformedConfig = errors.New("malformed decoder configuration")

// NewTrack builds a Track from a codec and its decoder configuration (see
// Track.Config for the expected form per codec), filling Width/Height,
// SampleRate/Channels and CodecString from it. config is retained, not
// copied.
//
//   - H.264: AVCDecoderConfigurationRecord (ISO 14496-15 §5.3.3.1); the first
//     SPS gives the size; CodecString "avc1.PPCCLL" (RFC 6381 §3.3) from the
//     SPS profile_idc, constraint flags and level_idc.
//   - H.265: HEVCDecoderConfigurationRecord (ISO 14496-15 §8.3.3.1); the first
//     SPS gives the size; CodecString "hvc1.P.C.TL.B…" (ISO 14496-15 Annex E.3).
//   - AV1: AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3); the sequence header
//     OBU in configOBUs gives the size; CodecString "av01.P.LLT.DD"
//     (AV1-ISOBMFF "Codecs Parameter String").
//   - AAC: AudioSpecificConfig (ISO 14496-3 §1.6.2.1); SampleRate is the core
//     (AAC-LC) sampling rate, so one frame always lasts 1024/SampleRate s;
//     CodecString "mp4a.40.N" with N the audio object type (2 LC, 5 HE, 29 HEv2).
//   - Opus: "OpusHead" identification header (RFC 7845 §5.1) or empty, which
//     means stereo; SampleRate is always 48000 (Opus' decoding rate, RFC 7587).
//
// It returns an error wrapping ErrMalformedConfig for a config it cannot
// parse, and never panics.
func NewTrack(codec Codec, config []byte) (t *Track, err error) {
	defer func() {
		// Belt and braces: the parsers below are bounds-checked, but a
		// publisher must never be able to crash the server with a header.
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("av: %s config: %w: parser panic: %v", codec, ErrMalformedConfig, r)
		}
	}()

	t = &Track{Codec: codec, Config: config}
	switch codec {
	case CodecH264:
		err = t.parseAVC()
	case CodecH265:
		err = t.parseHEVC()
	case CodecAV1:
		err = t.parseAV1()
	case CodecAAC:
		err = t.parseAAC()
	case CodecOpus:
		err = t.parseOpus()
	case CodecMP3:
		err = t.parseMP3()
	default:
		return nil, fmt.Errorf("av: new track: unsupported codec %s (%d)", codec, uint8(codec))
	}
	if err != nil {
		return nil, fmt.Errorf("av: %s config: %w: %w", codec, ErrMalformedConfig, err)
	}
	return t, nil
}

// avcRecord is the part of an AVCDecoderConfigurationRecord NewTrack needs.
type avcRecord struct {
	lengthSize int
	sps, pps   [][]byte
}

// parseAVCRecord parses an AVCDecoderConfigurationRecord
// (ISO 14496-15 §5.3.3.1.2); trailing high-profile extensions are ignored.
func parseAVCRecord(b []byte) (avcRecord, error) {
	var r avcRecord
	if len(b) < 7 {
		return r, fmt.Errorf("record too short (%d bytes)", len(b))
	}
	if b[0] != 1 {
		return r, fmt.Errorf("configurationVersion %d, want 1", b[0])
	}
	r.lengthSize = int(b[4]&3) + 1
	if r.lengthSize == 3 {
		return r, errors.New("lengthSizeMinusOne 2 is reserved")
	}
	var err error
	var pos int
	r.sps, pos, err = readParamSets(b, 6, int(b[5]&0x1f))
	if err != nil {
		return r, fmt.Errorf("SPS: %w", err)
	}
	if pos >= len(b) {
		return r, errors.New("numOfPictureParameterSets missing")
	}
	r.pps, _, err = readParamSets(b, pos+1, int(b[pos]))
	if err != nil {
		return r, fmt.Errorf("PPS: %w", err)
	}
	return r, nil
}

// readParamSets reads n (u16 length, bytes) entries starting at b[pos] and
// returns them with the position after the last one.
func readParamSets(b []byte, pos, n int) ([][]byte, int, error) {
	sets := make([][]byte, 0, min(n, 4))
	for i := 0; i < n; i++ {
		if len(b)-pos < 2 {
			return nil, pos, errors.New("truncated length")
		}
		l := int(binary.BigEndian.Uint16(b[pos:]))
		pos += 2
		if len(b)-pos < l {
			return nil, pos, fmt.Errorf("parameter set of %d bytes exceeds record", l)
		}
		sets = append(sets, b[pos:pos+l])
		pos += l
	}
	return sets, pos, nil
}

func (t *Track) parseAVC() error {
	r, err := parseAVCRecord(t.Config)
	if err != nil {
		return err
	}
	if len(r.sps) == 0 || len(r.sps[0]) < 4 {
		return errors.New("no SPS")
	}
	sps := r.sps[0]
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return fmt.Errorf("SPS: %w", err)
	}
	t.Width, t.Height = s.Width(), s.Height()
	// RFC 6381 §3.3: profile_idc, the constraint-flags byte, level_idc.
	t.CodecString = fmt.Sprintf("avc1.%02x%02x%02x", sps[1], sps[2], sps[3])
	return nil
}

// HEVC NAL unit types used in the configuration record (H.265 Table 7-1).
const (
	hevcNALVPS = 32
	hevcNALSPS = 33
	hevcNALPPS = 34
)

// hevcRecordHeaderLen is the fixed part of an HEVCDecoderConfigurationRecord.
const hevcRecordHeaderLen = 23

// hevcRecordNALUs returns the parameter sets of type typ in an
// HEVCDecoderConfigurationRecord (ISO 14496-15 §8.3.3.1.2).
func hevcRecordNALUs(b []byte, typ uint8) ([][]byte, error) {
	if len(b) < hevcRecordHeaderLen {
		return nil, fmt.Errorf("record too short (%d bytes)", len(b))
	}
	if b[0] > 1 { // some pre-standard muxers write 0
		return nil, fmt.Errorf("configurationVersion %d, want 1", b[0])
	}
	numArrays := int(b[22])
	pos := hevcRecordHeaderLen
	var out [][]byte
	for i := 0; i < numArrays; i++ {
		if len(b)-pos < 3 {
			return nil, errors.New("truncated NAL unit array")
		}
		nalType := b[pos] & 0x3f
		n := int(binary.BigEndian.Uint16(b[pos+1:]))
		pos += 3
		for j := 0; j < n; j++ {
			if len(b)-pos < 2 {
				return nil, errors.New("truncated NAL unit length")
			}
			l := int(binary.BigEndian.Uint16(b[pos:]))
			pos += 2
			if len(b)-pos < l {
				return nil, fmt.Errorf("NAL unit of %d bytes exceeds record", l)
			}
			if nalType == typ {
				out = append(out, b[pos:pos+l])
			}
			pos += l
		}
	}
	return out, nil
}

func (t *Track) parseHEVC() error {
	sps, err := hevcRecordNALUs(t.Config, hevcNALSPS)
	if err != nil {
		return err
	}
	if len(sps) == 0 {
		return errors.New("no SPS")
	}
	var s h265.SPS
	if err := s.Unmarshal(sps[0]); err != nil {
		return fmt.Errorf("SPS: %w", err)
	}
	t.Width, t.Height = s.Width(), s.Height()
	t.CodecString = hevcCodecString(t.Config)
	return nil
}

// hevcCodecString formats ISO 14496-15 Annex E.3 from the record's
// general_profile_tier_level fields (bytes 1..12), e.g. "hvc1.1.6.L93.B0".
func hevcCodecString(b []byte) string {
	var sb strings.Builder
	sb.WriteString("hvc1.")
	// general_profile_space as "", "A", "B", "C", then general_profile_idc.
	if space := b[1] >> 6; space > 0 {
		sb.WriteByte('A' + space - 1)
	}
	sb.WriteString(strconv.Itoa(int(b[1] & 0x1f)))
	// general_profile_compatibility_flags in reverse bit order, hex, no
	// leading zeros.
	compat := binary.BigEndian.Uint32(b[2:6])
	var rev uint32
	for i := 0; i < 32; i++ {
		if compat&(1<<i) != 0 {
			rev |= 1 << (31 - i)
		}
	}
	sb.WriteByte('.')
	sb.WriteString(strings.ToUpper(strconv.FormatUint(uint64(rev), 16)))
	// general_tier_flag as L or H, then general_level_idc.
	sb.WriteByte('.')
	if b[1]&0x20 != 0 {
		sb.WriteByte('H')
	} else {
		sb.WriteByte('L')
	}
	sb.WriteString(strconv.Itoa(int(b[12])))
	// Six constraint bytes, trailing zero bytes omitted.
	cons := b[6:12]
	last := len(cons)
	for last > 0 && cons[last-1] == 0 {
		last--
	}
	for _, c := range cons[:last] {
		fmt.Fprintf(&sb, ".%02X", c)
	}
	return sb.String()
}

func (t *Track) parseAV1() error {
	b := t.Config
	// AV1-ISOBMFF §2.3.3: marker(1)=1 version(7)=1, seq_profile(3)
	// seq_level_idx_0(5), seq_tier_0(1) high_bitdepth(1) twelve_bit(1) ...
	if len(b) < 4 {
		return fmt.Errorf("record too short (%d bytes)", len(b))
	}
	if b[0] != 0x81 {
		return fmt.Errorf("marker/version byte 0x%02x, want 0x81", b[0])
	}
	profile := b[1] >> 5
	level := b[1] & 0x1f
	tier := b[2]>>7 != 0
	depth := 8
	if b[2]&0x40 != 0 {
		depth = 10
		if b[2]&0x20 != 0 {
			depth = 12
		}
	}

	var shErr error
	err := ForEachOBU(b[4:], func(typ byte, header, payload []byte) bool {
		if typ != OBUSequenceHeader {
			return true
		}
		sh, err := parseSequenceHeader(header, payload)
		if err != nil {
			shErr = fmt.Errorf("sequence header: %w", err)
			return false
		}
		t.Width, t.Height = sh.Width(), sh.Height()
		profile = sh.SeqProfile
		if len(sh.SeqLevelIdx) > 0 {
			level = sh.SeqLevelIdx[0]
		}
		if len(sh.SeqTier) > 0 {
			tier = sh.SeqTier[0]
		}
		if sh.ColorConfig.BitDepth > 0 {
			depth = sh.ColorConfig.BitDepth
		}
		return false
	})
	if err != nil {
		return fmt.Errorf("configOBUs: %w", err)
	}
	if shErr != nil {
		return shErr
	}
	tierChar := 'M'
	if tier {
		tierChar = 'H'
	}
	t.CodecString = fmt.Sprintf("av01.%d.%02d%c.%02d", profile, level, tierChar, depth)
	return nil
}

// aacSampleRates is ISO 14496-3 Table 1.18 (samplingFrequencyIndex).
var aacSampleRates = [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

func (t *Track) parseAAC() error {
	var c mpeg4audio.AudioSpecificConfig
	if err := c.Unmarshal(t.Config); err == nil {
		objType := int(c.Type)
		if c.ExtensionType != 0 {
			objType = int(c.ExtensionType)
		}
		t.SampleRate = c.SampleRate
		t.Channels = c.ChannelCount
		t.CodecString = "mp4a.40." + strconv.Itoa(objType)
		return nil
	}
	// mediacommon only accepts LC/SBR/PS; fall back to the first fields of
	// the ASC (ISO 14496-3 §1.6.2.1) for other object types (Main, LTP, ...).
	b := t.Config
	if len(b) < 2 {
		return fmt.Errorf("AudioSpecificConfig too short (%d bytes)", len(b))
	}
	objType := int(b[0] >> 3)
	if objType == 0 || objType == 31 { // 0: null, 31: escape (not supported)
		return fmt.Errorf("unsupported audioObjectType %d", objType)
	}
	idx := int(b[0]&7)<<1 | int(b[1]>>7)
	if idx >= len(aacSampleRates) {
		return fmt.Errorf("unsupported samplingFrequencyIndex %d", idx)
	}
	t.SampleRate = aacSampleRates[idx]
	switch ch := int(b[1]>>3) & 0x0f; {
	case ch >= 1 && ch <= 6:
		t.Channels = ch
	case ch == 7:
		t.Channels = 8
	}
	t.CodecString = "mp4a.40." + strconv.Itoa(objType)
	return nil
}

// OpusSampleRate is the sampling rate of every decoded Opus stream and the
// clock rate of its timestamps (RFC 7587 §4.1).
const OpusSampleRate = 48000

func (t *Track) parseOpus() error {
	t.SampleRate = OpusSampleRate
	t.CodecString = "opus"
	t.Channels = 2
	if len(t.Config) == 0 {
		return nil
	}
	// RFC 7845 §5.1: "OpusHead", version, channel count, pre-skip (LE),
	// input sample rate (LE), output gain, mapping family.
	b := t.Config
	if len(b) < 19 || string(b[:8]) != "OpusHead" {
		return errors.New("not an OpusHead identification header")
	}
	if b[8]>>4 != 0 { // major version must be 0 (RFC 7845 §5.1 item 2)
		return fmt.Errorf("unsupported OpusHead version %d", b[8])
	}
	if b[9] == 0 {
		return errors.New("OpusHead channel count 0")
	}
	t.Channels = int(b[9])
	return nil
}

// OpusHead returns a minimal RFC 7845 §5.1 identification header for a
// stream of the given channel count (1 or 2 use mapping family 0).
func OpusHead(channels int) []byte {
	if channels < 1 || channels > 2 {
		channels = 2
	}
	h := make([]byte, 19)
	copy(h, "OpusHead")
	h[8] = 1
	h[9] = byte(channels)
	binary.LittleEndian.PutUint16(h[10:], 3840) // pre-skip: 80 ms, libopus' default
	binary.LittleEndian.PutUint32(h[12:], OpusSampleRate)
	return h
}

// H264ParameterSets returns the SPS and PPS NAL units in an
// AVCDecoderConfigurationRecord (aliasing config).
func H264ParameterSets(config []byte) (sps, pps [][]byte, err error) {
	r, err := parseAVCRecord(config)
	if err != nil {
		return nil, nil, fmt.Errorf("av: h264 config: %w: %w", ErrMalformedConfig, err)
	}
	return r.sps, r.pps, nil
}

// H265ParameterSets returns the VPS, SPS and PPS NAL units in an
// HEVCDecoderConfigurationRecord (aliasing config).
func H265ParameterSets(config []byte) (vps, sps, pps [][]byte, err error) {
	for _, p := range []struct {
		typ uint8
		out *[][]byte
	}{{hevcNALVPS, &vps}, {hevcNALSPS, &sps}, {hevcNALPPS, &pps}} {
		if *p.out, err = hevcRecordNALUs(config, p.typ); err != nil {
			return nil, nil, nil, fmt.Errorf("av: h265 config: %w: %w", ErrMalformedConfig, err)
		}
	}
	return vps, sps, pps, nil
}

// NALULengthSize returns the size in bytes (1, 2 or 4) of the NAL unit
// length prefixes announced by an H.264 or H.265 decoder configuration
// record, or 0 for other codecs or a record too short to tell.
func NALULengthSize(codec Codec, config []byte) int {
	switch codec {
	case CodecH264:
		if len(config) >= 5 {
			return int(config[4]&3) + 1
		}
	case CodecH265:
		if len(config) >= hevcRecordHeaderLen {
			return int(config[21]&3) + 1
		}
	}
	return 0
}

// AVCCToAnnexB appends the NAL units of avcc (4-byte big-endian length
// prefixes, as in Packet.Data) to dst in Annex-B form (4-byte start codes).
// It works for H.264 and H.265 alike.
func AVCCToAnnexB(dst, avcc []byte) ([]byte, error) {
	start := len(dst)
	for b := avcc; len(b) > 0; {
		if len(b) < 4 {
			return dst[:start], fmt.Errorf("av: avcc to annex-b: %d trailing bytes", len(b))
		}
		l := binary.BigEndian.Uint32(b)
		if uint64(l) > uint64(len(b)-4) {
			return dst[:start], fmt.Errorf("av: avcc to annex-b: NAL unit of %d bytes exceeds %d remaining", l, len(b)-4)
		}
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, b[4:4+l]...)
		b = b[4+l:]
	}
	return dst, nil
}

// AnnexBToAVCC appends the NAL units of an Annex-B byte stream (3- or 4-byte
// start codes) to dst with 4-byte big-endian length prefixes. It works for
// H.264 and H.265 alike.
func AnnexBToAVCC(dst, annexb []byte) ([]byte, error) {
	var au h264.AnnexB
	if err := au.Unmarshal(annexb); err != nil {
		return dst, fmt.Errorf("av: annex-b to avcc: %w", err)
	}
	for _, n := range au {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(n)))
		dst = append(dst, n...)
	}
	return dst, nil
}

// forEachNALU calls f with the header byte of each NAL unit of avcc until f
// returns true; it stops quietly at the first malformed length.
func forEachNALU(avcc []byte, f func(hdr byte) bool) bool {
	for b := avcc; len(b) >= 4; {
		l := binary.BigEndian.Uint32(b)
		if l == 0 {
			b = b[4:]
			continue
		}
		if uint64(l) > uint64(len(b)-4) {
			return false
		}
		if f(b[4]) {
			return true
		}
		b = b[4+l:]
	}
	return false
}

// IsH264Keyframe reports whether an H.264 access unit in AVCC form contains
// an IDR slice (nal_unit_type 5, H.264 Table 7-1).
func IsH264Keyframe(avcc []byte) bool {
	return forEachNALU(avcc, func(h byte) bool { return h&0x1f == 5 })
}

// IsH265Keyframe reports whether an H.265 access unit in AVCC form contains
// an IRAP picture (nal_unit_type 16..23: BLA, IDR, CRA; H.265 §7.4.2.2).
func IsH265Keyframe(avcc []byte) bool {
	return forEachNALU(avcc, func(h byte) bool {
		t := (h >> 1) & 0x3f
		return t >= 16 && t <= 23
	})
}
