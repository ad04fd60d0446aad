package rtmp

import (
	"encoding/binary"
	"fmt"
)

// User control event types, RTMP spec §7.1.7.
const (
	UCStreamBegin      = 0
	UCStreamEOF        = 1
	UCStreamDry        = 2
	UCSetBufferLength  = 3
	UCStreamIsRecorded = 4
	UCPingRequest      = 6
	UCPingResponse     = 7
)

// UserControl is a User Control message (type 4, §6.2) with its event data
// (§7.1.7). Which fields are meaningful depends on Event: StreamID for
// StreamBegin, StreamEOF, StreamDry, StreamIsRecorded and SetBufferLength;
// BufferLength (ms) for SetBufferLength; Timestamp for PingRequest and
// PingResponse.
type UserControl struct {
	Event        uint16
	StreamID     uint32
	Timestamp    uint32
	BufferLength uint32
}

// ParseUserControl parses a User Control message payload. Known events with
// short event data are errors; unknown events (e.g. SWF verification) parse
// with only Event set.
func ParseUserControl(payload []byte) (UserControl, error) {
	if len(payload) < 2 {
		return UserControl{}, fmt.Errorf("rtmp: user control payload of %d bytes, want at least 2", len(payload))
	}
	u := UserControl{Event: binary.BigEndian.Uint16(payload)}
	data := payload[2:]
	need := 0
	switch u.Event {
	case UCStreamBegin, UCStreamEOF, UCStreamDry, UCStreamIsRecorded, UCPingRequest, UCPingResponse:
		need = 4
	case UCSetBufferLength:
		need = 8
	default:
		return u, nil
	}
	if len(data) < need {
		return UserControl{}, fmt.Errorf("rtmp: user control event %d with %d data bytes, want %d", u.Event, len(data), need)
	}
	v := binary.BigEndian.Uint32(data)
	switch u.Event {
	case UCPingRequest, UCPingResponse:
		u.Timestamp = v
	case UCSetBufferLength:
		u.StreamID = v
		u.BufferLength = binary.BigEndian.Uint32(data[4:])
	default:
		u.StreamID = v
	}
	return u, nil
}

// Message returns u as a User Control message on chunk stream 2, message
// stream 0 (§6.2).
func (u UserControl) Message() *Message {
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 10), u.Event)
	switch u.Event {
	case UCPingRequest, UCPingResponse:
		p = binary.BigEndian.AppendUint32(p, u.Timestamp)
	case UCSetBufferLength:
		p = binary.BigEndian.AppendUint32(p, u.StreamID)
		p = binary.BigEndian.AppendUint32(p, u.BufferLength)
	default:
		p = binary.BigEndian.AppendUint32(p, u.StreamID)
	}
	return controlMessage(MsgUserControl, p)
}
