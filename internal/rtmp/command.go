package rtmp

import (
	"fmt"

	"github.com/sluicemedia/sluice/internal/amf0"
)

// Command is an RTMP command message (§7.1.1): a name, a transaction ID, a
// command object and optional arguments, all AMF0-encoded (§7.2).
type Command struct {
	// Name is the command name, e.g. "connect", "publish", "_result",
	// "onStatus".
	Name string
	// TransactionID pairs a request with its _result/_error (0 when no
	// answer is expected).
	TransactionID float64
	// Object is the command object: amf0.Object for connect and results,
	// nil (AMF0 null) for most others.
	Object any
	// Args are the remaining values (stream name, info object, ...).
	Args []any
}

// ParseCommand decodes an AMF0 (type 20) or AMF3 (type 17) command message.
// An AMF3 command starts with a 0x00 format byte followed by AMF0 values
// (§7.1.1), which is the only form accepted for type 17. A missing
// transaction ID or command object decodes as 0 / nil.
func ParseCommand(m *Message) (*Command, error) {
	payload := m.Payload
	switch m.Type {
	case MsgCommandAMF0:
	case MsgCommandAMF3:
		if len(payload) > 0 && payload[0] == 0x00 {
			payload = payload[1:]
		}
	default:
		return nil, fmt.Errorf("rtmp: parse command: message type %d is not a command", m.Type)
	}
	vals, err := amf0.Decode(payload)
	if err != nil {
		return nil, fmt.Errorf("rtmp: parse command: %w", err)
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("rtmp: parse command: empty payload")
	}
	c := &Command{}
	var ok bool
	if c.Name, ok = vals[0].(string); !ok {
		return nil, fmt.Errorf("rtmp: parse command: name is %T, want string", vals[0])
	}
	if len(vals) > 1 {
		if c.TransactionID, ok = vals[1].(float64); !ok {
			return nil, fmt.Errorf("rtmp: parse command %q: transaction id is %T, want number", c.Name, vals[1])
		}
	}
	if len(vals) > 2 {
		c.Object = vals[2]
	}
	if len(vals) > 3 {
		c.Args = vals[3:]
	}
	return c, nil
}

// Message encodes c as an AMF0 command message (type 20) on chunk stream
// csid and message stream streamID.
func (c *Command) Message(csid, streamID uint32) (*Message, error) {
	p, err := amf0.Append(nil, c.Name, c.TransactionID, c.Object)
	if err == nil {
		p, err = amf0.Append(p, c.Args...)
	}
	if err != nil {
		return nil, fmt.Errorf("rtmp: encode command %q: %w", c.Name, err)
	}
	return &Message{Type: MsgCommandAMF0, ChunkStreamID: csid, StreamID: streamID, Payload: p}, nil
}

// ArgObject returns Args[i] as an amf0.Object (e.g. the info object of
// _result and onStatus), or nil.
func (c *Command) ArgObject(i int) amf0.Object {
	if i < 0 || i >= len(c.Args) {
		return nil
	}
	o, _ := c.Args[i].(amf0.Object)
	return o
}

// ArgString returns Args[i] as a string (e.g. the stream name of publish
// and play), or "".
func (c *Command) ArgString(i int) string {
	if i < 0 || i >= len(c.Args) {
		return ""
	}
	s, _ := c.Args[i].(string)
	return s
}

// ArgNumber returns Args[i] as a number; ok is false when absent or not a
// number.
func (c *Command) ArgNumber(i int) (float64, bool) {
	if i < 0 || i >= len(c.Args) {
		return 0, false
	}
	n, ok := c.Args[i].(float64)
	return n, ok
}
