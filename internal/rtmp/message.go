package rtmp

import "fmt"

// Message type IDs, RTMP spec §5.4 (protocol control), §6.2 (user control)
// and §7.1 (command, data, shared object, audio, video, aggregate).
const (
	MsgSetChunkSize     = 1
	MsgAbort            = 2
	MsgAck              = 3
	MsgUserControl      = 4
	MsgWindowAckSize    = 5
	MsgSetPeerBandwidth = 6
	MsgAudio            = 8
	MsgVideo            = 9
	MsgDataAMF3         = 15
	MsgSharedObjectAMF3 = 16
	MsgCommandAMF3      = 17
	MsgDataAMF0         = 18
	MsgSharedObjectAMF0 = 19
	MsgCommandAMF0      = 20
	MsgAggregate        = 22
)

const (
	maxMessageLength     = 0xFFFFFF // 24-bit message length field, §5.3.1.2.1
	maxChunkStreamID     = 65599    // largest ID a 3-byte basic header can carry, §5.3.1.1
	minChunkStreamID     = 2        // 0 and 1 select the 2- and 3-byte basic header forms
	controlChunkStreamID = 2        // protocol control messages, §5.4
)

// Message is one RTMP message (§6.1) as carried by a chunk stream.
type Message struct {
	// Type is the message type ID (Msg* constants).
	Type uint8
	// ChunkStreamID is the chunk stream the message travels on, 2..65599.
	ChunkStreamID uint32
	// StreamID is the message stream ID (0 for NetConnection-level traffic).
	StreamID uint32
	// Timestamp is the absolute timestamp in milliseconds; it wraps at 2^32.
	Timestamp uint32
	// Payload is the message body. A Message returned by a reader owns it.
	Payload []byte
}

// Validate reports whether m can be written: its chunk stream ID must be in
// 2..65599 and its payload at most 0xFFFFFF bytes (§5.3.1).
func (m *Message) Validate() error {
	if m.ChunkStreamID < minChunkStreamID || m.ChunkStreamID > maxChunkStreamID {
		return fmt.Errorf("rtmp: chunk stream id %d out of range %d..%d", m.ChunkStreamID, minChunkStreamID, maxChunkStreamID)
	}
	if len(m.Payload) > maxMessageLength {
		return fmt.Errorf("rtmp: message of %d bytes exceeds the 24-bit length field", len(m.Payload))
	}
	return nil
}

// String describes the message header for logs and test failures.
func (m *Message) String() string {
	return fmt.Sprintf("rtmp.Message{type=%d csid=%d stream=%d ts=%d len=%d}",
		m.Type, m.ChunkStreamID, m.StreamID, m.Timestamp, len(m.Payload))
}
