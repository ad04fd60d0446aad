package flv

import (
	"fmt"

	"github.com/sluicemedia/sluice/internal/av"
)

// FourCC codes of Enhanced RTMP v2 ("FourCC" tables of the Enhanced Video
// and Enhanced Audio sections).
const (
	FourCCAVC  = "avc1"
	FourCCHEVC = "hvc1"
	FourCCAV1  = "av01"
	FourCCVP9  = "vp09"
	FourCCVP8  = "vp08"
	FourCCOpus = "Opus"
	FourCCAAC  = "mp4a"
	FourCCFLAC = "fLaC"
	FourCCAC3  = "ac-3"
	FourCCEAC3 = "ec-3"
	FourCCMP3  = ".mp3"
)

// fourCCCodec maps a FourCC to the av codec, CodecUnknown if unsupported.
func fourCCCodec(f []byte) av.Codec {
	switch string(f) {
	case FourCCAVC:
		return av.CodecH264
	case FourCCHEVC:
		return av.CodecH265
	case FourCCAV1:
		return av.CodecAV1
	case FourCCOpus:
		return av.CodecOpus
	case FourCCAAC:
		return av.CodecAAC
	case FourCCMP3:
		return av.CodecMP3
	}
	return av.CodecUnknown
}

// codecFourCC is the inverse of fourCCCodec.
func codecFourCC(c av.Codec) string {
	switch c {
	case av.CodecH264:
		return FourCCAVC
	case av.CodecH265:
		return FourCCHEVC
	case av.CodecAV1:
		return FourCCAV1
	case av.CodecOpus:
		return FourCCOpus
	case av.CodecAAC:
		return FourCCAAC
	case av.CodecMP3:
		return FourCCMP3
	}
	return "????"
}

// AvMultitrackType values (Enhanced RTMP v2, "Multitrack").
const (
	multitrackOneTrack             = 0
	multitrackManyTracks           = 1
	multitrackManyTracksManyCodecs = 2
)

// skipModEx walks the Enhanced RTMP v2 ModEx chain: while the packet type is
// modEx, read modExDataSize (UI8+1, or UI16+1 when the UI8 form is 256),
// modExData, then a byte holding ModExType (high nibble) and the next packet
// type (low nibble). The modifiers (today only TimestampOffsetNano) are
// ignored: FLV/RTMP timing is in whole milliseconds throughout Sluice.
func skipModEx(b []byte, pos int, pt, modEx uint8) (int, uint8, error) {
	for pt == modEx {
		if pos >= len(b) {
			return pos, pt, fmt.Errorf("ModEx size: %w", ErrTruncated)
		}
		size := int(b[pos]) + 1
		pos++
		if size == 256 {
			if len(b)-pos < 2 {
				return pos, pt, fmt.Errorf("ModEx UI16 size: %w", ErrTruncated)
			}
			size = int(b[pos])<<8 | int(b[pos+1]) + 1
			pos += 2
		}
		if len(b)-pos < size+1 {
			return pos, pt, fmt.Errorf("ModEx data (%d bytes): %w", size, ErrTruncated)
		}
		pos += size
		pt = b[pos] & 0x0f
		pos++
	}
	return pos, pt, nil
}

// exBody is the codec payload of an enhanced tag after the FourCC (and, for
// multitrack, after the track selection).
type exBody struct {
	pt      uint8
	fourCC  []byte
	trackID uint8
	payload []byte
}

// parseExBody reads, from b[pos:], the optional Multitrack wrapper and the
// FourCC, returning the payload of the default track. pt is the packet type
// after ModEx; multitrack is the Multitrack packet type value for this
// media kind. For multitrack tags the track with ID 0 is chosen, or the
// first track when none has ID 0.
func parseExBody(b []byte, pos int, pt, multitrack uint8) (exBody, error) {
	if pt != multitrack {
		if len(b)-pos < 4 {
			return exBody{}, fmt.Errorf("FourCC: %w", ErrTruncated)
		}
		return exBody{pt: pt, fourCC: b[pos : pos+4], payload: b[pos+4:]}, nil
	}
	if pos >= len(b) {
		return exBody{}, fmt.Errorf("multitrack type: %w", ErrTruncated)
	}
	mt, pt := b[pos]>>4, b[pos]&0x0f
	pos++
	if pt == multitrack {
		return exBody{}, fmt.Errorf("nested multitrack packet type")
	}
	if mt > multitrackManyTracksManyCodecs {
		return exBody{}, fmt.Errorf("%w: AvMultitrackType %d", ErrUnsupportedPacketType, mt)
	}
	var fourCC []byte
	if mt != multitrackManyTracksManyCodecs {
		if len(b)-pos < 4 {
			return exBody{}, fmt.Errorf("multitrack FourCC: %w", ErrTruncated)
		}
		fourCC = b[pos : pos+4]
		pos += 4
	}
	var chosen exBody
	found := false
	for pos < len(b) {
		t := exBody{pt: pt, fourCC: fourCC}
		if mt == multitrackManyTracksManyCodecs {
			if len(b)-pos < 4 {
				return exBody{}, fmt.Errorf("track FourCC: %w", ErrTruncated)
			}
			t.fourCC = b[pos : pos+4]
			pos += 4
		}
		if pos >= len(b) {
			return exBody{}, fmt.Errorf("track id: %w", ErrTruncated)
		}
		t.trackID = b[pos]
		pos++
		end := len(b)
		if mt != multitrackOneTrack {
			if len(b)-pos < 3 {
				return exBody{}, fmt.Errorf("track size: %w", ErrTruncated)
			}
			size := int(b[pos])<<16 | int(b[pos+1])<<8 | int(b[pos+2])
			pos += 3
			if len(b)-pos < size {
				return exBody{}, fmt.Errorf("track %d of %d bytes: %w", t.trackID, size, ErrTruncated)
			}
			end = pos + size
		}
		t.payload = b[pos:end]
		pos = end
		if !found || t.trackID == 0 && chosen.trackID != 0 {
			chosen, found = t, true
		}
		if mt == multitrackOneTrack {
			break
		}
	}
	if !found {
		return exBody{}, fmt.Errorf("multitrack without tracks: %w", ErrTruncated)
	}
	return chosen, nil
}

// si24 decodes a big-endian signed 24-bit integer.
func si24(b []byte) int32 {
	return int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8
}

// appendSI24 appends v as a big-endian signed 24-bit integer (clamped).
func appendSI24(dst []byte, v int32) []byte {
	v = max(min(v, 1<<23-1), -1<<23)
	return append(dst, byte(v>>16), byte(v>>8), byte(v))
}
