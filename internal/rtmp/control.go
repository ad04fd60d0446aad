package rtmp

import (
	"encoding/binary"
	"fmt"
)

// Protocol control messages, RTMP spec §5.4. They travel on chunk stream 2,
// message stream 0.

// Set Peer Bandwidth limit types, §5.4.5.
const (
	BandwidthHard    = 0
	BandwidthSoft    = 1
	BandwidthDynamic = 2
)

func controlMessage(typ uint8, payload []byte) *Message {
	return &Message{Type: typ, ChunkStreamID: controlChunkStreamID, Payload: payload}
}

func uint32Message(typ uint8, v uint32) *Message {
	return controlMessage(typ, binary.BigEndian.AppendUint32(make([]byte, 0, 4), v))
}

// SetChunkSizeMessage returns a Set Chunk Size message (§5.4.1) announcing
// that the sender's chunks now carry at most n payload bytes.
func SetChunkSizeMessage(n uint32) *Message {
	return uint32Message(MsgSetChunkSize, n&maxSettableChunkSize)
}

// AbortMessage returns an Abort message (§5.4.2) telling the peer to drop
// the partial message on chunk stream csid.
func AbortMessage(csid uint32) *Message { return uint32Message(MsgAbort, csid) }

// AckMessage returns an Acknowledgement (§5.4.3) carrying the number of
// bytes received so far (mod 2^32).
func AckMessage(seq uint32) *Message { return uint32Message(MsgAck, seq) }

// WindowAckSizeMessage returns a Window Acknowledgement Size message
// (§5.4.4): the peer should acknowledge every n bytes it receives.
func WindowAckSizeMessage(n uint32) *Message { return uint32Message(MsgWindowAckSize, n) }

// SetPeerBandwidthMessage returns a Set Peer Bandwidth message (§5.4.5)
// limiting the peer's output to window n bytes with the given limit type
// (BandwidthHard, BandwidthSoft or BandwidthDynamic).
func SetPeerBandwidthMessage(n uint32, limitType uint8) *Message {
	p := binary.BigEndian.AppendUint32(make([]byte, 0, 5), n)
	return controlMessage(MsgSetPeerBandwidth, append(p, limitType))
}

// ParseUint32Control returns the 32-bit value carried by a Set Chunk Size,
// Abort, Acknowledgement or Window Acknowledgement Size payload (§5.4).
// Extra trailing bytes are ignored.
func ParseUint32Control(payload []byte) (uint32, error) {
	if len(payload) < 4 {
		return 0, fmt.Errorf("rtmp: protocol control payload of %d bytes, want 4", len(payload))
	}
	return binary.BigEndian.Uint32(payload), nil
}

// ParseSetPeerBandwidth returns the window size and limit type of a Set
// Peer Bandwidth payload (§5.4.5).
func ParseSetPeerBandwidth(payload []byte) (n uint32, limitType uint8, err error) {
	if len(payload) < 5 {
		return 0, 0, fmt.Errorf("rtmp: set peer bandwidth payload of %d bytes, want 5", len(payload))
	}
	return binary.BigEndian.Uint32(payload), payload[4], nil
}
