package av

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// MaxAccessUnitSize bounds one H.264/H.265 access unit NALUIngest accepts
// (the sum of its NAL units with their 4-byte length prefixes); a bigger
// one from a remote source is refused as broken.
const MaxAccessUnitSize = 16 << 20

// ErrAccessUnit is wrapped by every NALUIngest.Convert error about a
// malformed access unit.
var ErrAccessUnit = errors.New("malformed access unit")

// NALUIngest turns H.264 or H.265 access units given as lists of NAL units
// (what demuxers and RTP depacketizers deliver: mediacommon's MPEG-TS and
// fMP4 readers, gortsplib's decoders) into hub payloads: AVCC data without
// in-band parameter sets, access unit delimiters and filler, the keyframe
// flag, and the Track built from the latest parameter sets, whether they
// came out of band (SetParams: an SDP's sprop-parameter-sets, an init
// segment) or in band (a camera that repeats them before each IDR). A
// parameter set change makes a new Track at the next keyframe. The zero
// value is not usable: set Codec.
type NALUIngest struct {
	// Codec is CodecH264 or CodecH265.
	Codec Codec

	vps, sps, pps []byte
	track         *Track
	changed       bool
}

// SetParams sets parameter sets known out of band; nil ones are ignored
// (vps is ignored for H.264).
func (g *NALUIngest) SetParams(vps, sps, pps []byte) {
	g.set(&g.vps, vps)
	g.set(&g.sps, sps)
	g.set(&g.pps, pps)
}

// Params returns the latest parameter sets (nil until seen).
func (g *NALUIngest) Params() (vps, sps, pps []byte) { return g.vps, g.sps, g.pps }

func (g *NALUIngest) set(dst *[]byte, v []byte) {
	if len(v) == 0 || bytes.Equal(*dst, v) {
		return
	}
	*dst = bytes.Clone(v)
	g.changed = true
}

// Convert returns the AVCC payload of one access unit, whether it is a
// keyframe (H.264: holds an IDR slice; H.265: an IRAP picture), and the
// track describing it, which is nil while no complete set of parameter
// sets has been seen before a keyframe (the caller drops such units: a
// decoder could not use them). An access unit that is empty after
// stripping parameter sets returns nil data. A malformed access unit (an
// empty NAL unit, or one over MaxAccessUnitSize in total) returns an error
// wrapping ErrAccessUnit. nalus are not retained.
func (g *NALUIngest) Convert(nalus [][]byte) (data []byte, key bool, track *Track, err error) {
	size := 0
	for _, n := range nalus {
		if len(n) == 0 {
			return nil, false, g.track, fmt.Errorf("av: %s: %w: empty NAL unit", g.Codec, ErrAccessUnit)
		}
		size += 4 + len(n)
	}
	if size > MaxAccessUnitSize {
		return nil, false, g.track, fmt.Errorf("av: %s: %w: %d bytes exceeds %d", g.Codec, ErrAccessUnit, size, MaxAccessUnitSize)
	}
	data = make([]byte, 0, size)
	for _, n := range nalus {
		var skip bool
		if g.Codec == CodecH265 {
			skip, key = g.h265NALU(n, key)
		} else {
			skip, key = g.h264NALU(n, key)
		}
		if skip {
			continue
		}
		data = binary.BigEndian.AppendUint32(data, uint32(len(n)))
		data = append(data, n...)
	}
	if len(data) == 0 {
		data = nil
	}
	if g.changed && key {
		g.track = g.newTrack()
		g.changed = false
	}
	return data, key, g.track, nil
}

// h264NALU classifies one H.264 NAL unit (H.264 Table 7-1): parameter sets
// are remembered and skipped, like delimiters and filler.
func (g *NALUIngest) h264NALU(n []byte, key bool) (skip, isKey bool) {
	switch mch264.NALUType(n[0] & 0x1f) {
	case mch264.NALUTypeSPS:
		g.set(&g.sps, n)
		return true, key
	case mch264.NALUTypePPS:
		g.set(&g.pps, n)
		return true, key
	case mch264.NALUTypeAccessUnitDelimiter, mch264.NALUTypeFillerData:
		return true, key
	case mch264.NALUTypeIDR:
		return false, true
	}
	return false, key
}

// h265NALU classifies one H.265 NAL unit (H.265 Table 7-1).
func (g *NALUIngest) h265NALU(n []byte, key bool) (skip, isKey bool) {
	switch typ := n[0] >> 1 & 0x3f; {
	case typ == hevcNALVPS:
		g.set(&g.vps, n)
		return true, key
	case typ == hevcNALSPS:
		g.set(&g.sps, n)
		return true, key
	case typ == hevcNALPPS:
		g.set(&g.pps, n)
		return true, key
	case typ == 35, typ == 38: // AUD_NUT, FD_NUT
		return true, key
	case typ >= 16 && typ <= 23: // IRAP: BLA, IDR, CRA (§7.4.2.2)
		return false, true
	}
	return false, key
}

// newTrack builds the track of the current parameter sets, nil if they are
// incomplete or do not parse.
func (g *NALUIngest) newTrack() *Track {
	if len(g.vps) > 0xffff || len(g.sps) > 0xffff || len(g.pps) > 0xffff {
		return nil // a record's 16-bit lengths cannot carry them
	}
	var cfg []byte
	switch {
	case g.Codec == CodecH265 && g.vps != nil && g.sps != nil && g.pps != nil:
		c, err := HEVCConfigRecord(g.vps, g.sps, g.pps)
		if err != nil {
			return nil
		}
		cfg = c
	case g.Codec == CodecH264 && len(g.sps) >= 4 && g.pps != nil:
		c, err := AVCConfigRecord(g.sps, g.pps)
		if err != nil {
			return nil
		}
		cfg = c
	default:
		g.changed = true // try again at the next keyframe
		return nil
	}
	t, err := NewTrack(g.Codec, cfg)
	if err != nil {
		return nil
	}
	return t
}
