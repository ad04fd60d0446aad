package flv

import (
	"encoding/binary"
	"fmt"
)

// HeaderSize is the size of the FLV file header (FLV v10.1 §E.2) without the
// PreviousTagSize0 field that follows it.
const HeaderSize = 9

// Header flag bits (TypeFlagsAudio, TypeFlagsVideo).
const (
	flagAudio = 0x04
	flagVideo = 0x01
)

// AppendHeader appends the FLV file header ("FLV", version 1, the
// audio/video presence flags, DataOffset 9) followed by PreviousTagSize0 (0)
// to dst.
func AppendHeader(dst []byte, hasVideo, hasAudio bool) []byte {
	var flags byte
	if hasAudio {
		flags |= flagAudio
	}
	if hasVideo {
		flags |= flagVideo
	}
	return append(dst, 'F', 'L', 'V', 1, flags, 0, 0, 0, HeaderSize, 0, 0, 0, 0)
}

// parseHeader validates the 9-byte file header and returns the presence
// flags and DataOffset.
func parseHeader(b []byte) (hasVideo, hasAudio bool, dataOffset uint32, err error) {
	if len(b) < HeaderSize {
		return false, false, 0, fmt.Errorf("flv: header: %w (%d bytes)", ErrTruncated, len(b))
	}
	if b[0] != 'F' || b[1] != 'L' || b[2] != 'V' {
		return false, false, 0, fmt.Errorf("flv: header: bad signature %q", b[:3])
	}
	if b[3] != 1 {
		return false, false, 0, fmt.Errorf("flv: header: unsupported version %d", b[3])
	}
	dataOffset = binary.BigEndian.Uint32(b[5:9])
	if dataOffset < HeaderSize {
		return false, false, 0, fmt.Errorf("flv: header: DataOffset %d < %d", dataOffset, HeaderSize)
	}
	return b[4]&flagVideo != 0, b[4]&flagAudio != 0, dataOffset, nil
}
