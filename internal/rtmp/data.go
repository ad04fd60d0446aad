package rtmp

import (
	"fmt"

	"github.com/sluicemedia/sluice/internal/amf0"
)

// ParseData decodes the values of a data message (§7.1.2): type 18 (AMF0),
// or type 15 (AMF3) whose leading 0x00 format byte is skipped before AMF0
// values. Typical payloads are "@setDataFrame", "onMetaData", {...} and
// "onMetaData", {...}.
func ParseData(m *Message) ([]any, error) {
	payload := m.Payload
	switch m.Type {
	case MsgDataAMF0:
	case MsgDataAMF3:
		if len(payload) > 0 && payload[0] == 0x00 {
			payload = payload[1:]
		}
	default:
		return nil, fmt.Errorf("rtmp: parse data: message type %d is not a data message", m.Type)
	}
	vals, err := amf0.Decode(payload)
	if err != nil {
		return nil, fmt.Errorf("rtmp: parse data: %w", err)
	}
	return vals, nil
}

// DataMessage encodes vals as an AMF0 data message (type 18) on chunk stream
// csid and message stream streamID.
func DataMessage(csid, streamID uint32, vals ...any) (*Message, error) {
	p, err := amf0.Append(nil, vals...)
	if err != nil {
		return nil, fmt.Errorf("rtmp: encode data: %w", err)
	}
	return &Message{Type: MsgDataAMF0, ChunkStreamID: csid, StreamID: streamID, Payload: p}, nil
}
