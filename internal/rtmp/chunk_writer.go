package rtmp

import (
	"encoding/binary"
	"slices"
)

// appendBasicHeader appends a chunk basic header (§5.3.1.1) for format fmt
// and chunk stream csid, using the 1-, 2- or 3-byte form as needed.
func appendBasicHeader(dst []byte, format uint8, csid uint32) []byte {
	switch {
	case csid < 64:
		return append(dst, format<<6|byte(csid))
	case csid < 64+256:
		return append(dst, format<<6, byte(csid-64))
	default:
		v := csid - 64
		return append(dst, format<<6|1, byte(v), byte(v>>8))
	}
}

// AppendChunks appends m to dst split into chunks (§5.3.1) of at most
// chunkSize payload bytes: a type-0 header (full message header, with an
// Extended Timestamp when Timestamp >= 0xFFFFFF, §5.3.1.3) before the first
// chunk and type-3 headers before continuation chunks, repeating the
// Extended Timestamp as Flash and ffmpeg expect. Always using type 0 for the
// first chunk makes the bytes independent of what was sent before, so they
// can be serialized once and shared by many connections that use the same
// chunk size.
//
// m should pass Validate; out-of-range chunk stream IDs are clamped into
// 2..65599 and payloads longer than 0xFFFFFF bytes are truncated. A
// chunkSize of 0 means the default of 128.
func AppendChunks(dst []byte, m *Message, chunkSize uint32) []byte {
	if chunkSize == 0 {
		chunkSize = DefaultChunkSize
	}
	csid := min(max(m.ChunkStreamID, minChunkStreamID), maxChunkStreamID)
	payload := m.Payload
	if len(payload) > maxMessageLength {
		payload = payload[:maxMessageLength]
	}
	ext := m.Timestamp >= extendedTimestamp
	ts := m.Timestamp
	if ext {
		ts = extendedTimestamp
	}
	n := len(payload)

	// Grow once: headers of at most 3+11+4 bytes and 3+4 per continuation.
	chunks := max(1, (n+int(chunkSize)-1)/int(chunkSize))
	dst = slices.Grow(dst, n+18+(chunks-1)*7)

	dst = appendBasicHeader(dst, 0, csid)
	dst = append(dst,
		byte(ts>>16), byte(ts>>8), byte(ts),
		byte(n>>16), byte(n>>8), byte(n),
		m.Type)
	dst = binary.LittleEndian.AppendUint32(dst, m.StreamID)
	if ext {
		dst = binary.BigEndian.AppendUint32(dst, m.Timestamp)
	}
	for i := 0; ; {
		end := min(i+int(chunkSize), n)
		dst = append(dst, payload[i:end]...)
		i = end
		if i >= n {
			return dst
		}
		dst = appendBasicHeader(dst, 3, csid)
		if ext {
			dst = binary.BigEndian.AppendUint32(dst, m.Timestamp)
		}
	}
}
