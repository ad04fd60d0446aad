package flv

import "encoding/binary"

// Tag types (FLV v10.1 §E.4.1 TagType).
const (
	TagAudio  = 8
	TagVideo  = 9
	TagScript = 18
)

// TagHeaderSize is the size of an FLV tag header.
const TagHeaderSize = 11

// MaxTagBodySize is the largest body the 24-bit DataSize field can describe.
const MaxTagBodySize = 1<<24 - 1

// Tag is one FLV tag.
type Tag struct {
	// Type is TagAudio, TagVideo or TagScript.
	Type uint8
	// Timestamp in milliseconds, including the TimestampExtended upper byte.
	Timestamp uint32
	// Body is the tag's data: the audio/video tag header and payload, or
	// AMF0 script data. It equals the RTMP message payload of the same type.
	Body []byte
}

// AppendTag appends one tag — the 11-byte header, body and the 4-byte
// PreviousTagSize — to dst. body must not exceed MaxTagBodySize (Writer
// checks this; direct callers must).
func AppendTag(dst []byte, typ uint8, ts uint32, body []byte) []byte {
	n := len(body)
	dst = append(dst,
		typ&0x1f,
		byte(n>>16), byte(n>>8), byte(n),
		byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24), // TimestampExtended last
		0, 0, 0, // StreamID
	)
	dst = append(dst, body...)
	return binary.BigEndian.AppendUint32(dst, uint32(TagHeaderSize+n))
}
