package rtmp

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/amf0"
)

func TestControlMessages(t *testing.T) {
	tests := []struct {
		m       *Message
		typ     uint8
		payload []byte
	}{
		{SetChunkSizeMessage(4096), MsgSetChunkSize, []byte{0, 0, 0x10, 0}},
		{AbortMessage(6), MsgAbort, []byte{0, 0, 0, 6}},
		{AckMessage(0x01020304), MsgAck, []byte{1, 2, 3, 4}},
		{WindowAckSizeMessage(2500000), MsgWindowAckSize, []byte{0x00, 0x26, 0x25, 0xA0}},
		{SetPeerBandwidthMessage(2500000, BandwidthDynamic), MsgSetPeerBandwidth, []byte{0x00, 0x26, 0x25, 0xA0, 2}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.typ, tt.m.Type)
		require.Equal(t, uint32(2), tt.m.ChunkStreamID)
		require.Equal(t, uint32(0), tt.m.StreamID)
		require.Equal(t, tt.payload, tt.m.Payload)
	}
	n, err := ParseUint32Control([]byte{0, 0, 1, 0})
	require.NoError(t, err)
	require.Equal(t, uint32(256), n)
	_, err = ParseUint32Control([]byte{0, 0, 1})
	require.Error(t, err)
	w, lt, err := ParseSetPeerBandwidth([]byte{0, 0, 1, 0, 1})
	require.NoError(t, err)
	require.Equal(t, uint32(256), w)
	require.Equal(t, uint8(1), lt)
	_, _, err = ParseSetPeerBandwidth([]byte{0, 0, 1, 0})
	require.Error(t, err)
}

func TestUserControl(t *testing.T) {
	tests := []struct {
		u       UserControl
		payload []byte
	}{
		{UserControl{Event: UCStreamBegin, StreamID: 1}, []byte{0, 0, 0, 0, 0, 1}},
		{UserControl{Event: UCStreamEOF, StreamID: 1}, []byte{0, 1, 0, 0, 0, 1}},
		{UserControl{Event: UCStreamDry, StreamID: 1}, []byte{0, 2, 0, 0, 0, 1}},
		{UserControl{Event: UCSetBufferLength, StreamID: 1, BufferLength: 3000}, []byte{0, 3, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8}},
		{UserControl{Event: UCStreamIsRecorded, StreamID: 1}, []byte{0, 4, 0, 0, 0, 1}},
		{UserControl{Event: UCPingRequest, Timestamp: 77}, []byte{0, 6, 0, 0, 0, 77}},
		{UserControl{Event: UCPingResponse, Timestamp: 77}, []byte{0, 7, 0, 0, 0, 77}},
	}
	for _, tt := range tests {
		m := tt.u.Message()
		require.Equal(t, uint8(MsgUserControl), m.Type)
		require.Equal(t, uint32(2), m.ChunkStreamID)
		require.Equal(t, tt.payload, m.Payload)
		u, err := ParseUserControl(tt.payload)
		require.NoError(t, err)
		require.Equal(t, tt.u, u)
	}
	u, err := ParseUserControl([]byte{0, 0x1A, 1})
	require.NoError(t, err, "unknown events parse")
	require.Equal(t, UserControl{Event: 0x1A}, u)
	_, err = ParseUserControl([]byte{0})
	require.Error(t, err)
	_, err = ParseUserControl([]byte{0, 3, 0, 0, 0, 1})
	require.Error(t, err)
	_, err = ParseUserControl([]byte{0, 6, 0})
	require.Error(t, err)
}

func TestCommandRoundTrip(t *testing.T) {
	cmd := &Command{
		Name:          "_result",
		TransactionID: 1,
		Object:        amf0.Object{{Key: "fmsVer", Value: "FMS/3,0,1,123"}},
		Args:          []any{StatusObject(LevelStatus, "NetConnection.Connect.Success", "ok")},
	}
	m, err := cmd.Message(3, 0)
	require.NoError(t, err)
	require.Equal(t, uint8(MsgCommandAMF0), m.Type)
	require.Equal(t, uint32(3), m.ChunkStreamID)
	got, err := ParseCommand(m)
	require.NoError(t, err)
	require.Equal(t, cmd, got)
	require.Equal(t, "NetConnection.Connect.Success", got.ArgObject(0).String("code"))
	require.Nil(t, got.ArgObject(1))
	require.Equal(t, "", got.ArgString(0))

	// Null command object and a string argument.
	cmd = &Command{Name: "publish", TransactionID: 5, Args: []any{"x?key=1", "live"}}
	m, err = cmd.Message(8, 1)
	require.NoError(t, err)
	require.Equal(t, []byte{
		0x02, 0, 7, 'p', 'u', 'b', 'l', 'i', 's', 'h',
		0x00, 0x40, 0x14, 0, 0, 0, 0, 0, 0,
		0x05,
		0x02, 0, 7, 'x', '?', 'k', 'e', 'y', '=', '1',
		0x02, 0, 4, 'l', 'i', 'v', 'e',
	}, m.Payload)
	got, err = ParseCommand(m)
	require.NoError(t, err)
	require.Equal(t, cmd, got)
	require.Equal(t, "x?key=1", got.ArgString(0))

	// AMF3 command: leading 0x00 format byte.
	m3 := &Message{Type: MsgCommandAMF3, Payload: append([]byte{0}, m.Payload...)}
	got, err = ParseCommand(m3)
	require.NoError(t, err)
	require.Equal(t, cmd, got)

	// Name only.
	got, err = ParseCommand(&Message{Type: MsgCommandAMF0, Payload: []byte{0x02, 0, 1, 'x'}})
	require.NoError(t, err)
	require.Equal(t, &Command{Name: "x"}, got)

	_, err = cmd.Message(3, 0)
	require.NoError(t, err)
	_, err = (&Command{Name: "bad", Args: []any{struct{}{}}}).Message(3, 0)
	require.ErrorContains(t, err, "rtmp: encode command")
}

func TestParseCommandErrors(t *testing.T) {
	for name, m := range map[string]*Message{
		"not a command":   {Type: MsgVideo, Payload: []byte{0x02, 0, 1, 'x'}},
		"empty":           {Type: MsgCommandAMF0},
		"name not string": {Type: MsgCommandAMF0, Payload: []byte{0x05}},
		"txn not number":  {Type: MsgCommandAMF0, Payload: []byte{0x02, 0, 1, 'x', 0x05}},
		"bad amf":         {Type: MsgCommandAMF0, Payload: []byte{0x02, 0, 9, 'x'}},
		"amf3 switch":     {Type: MsgCommandAMF3, Payload: []byte{0x11, 0x06, 0x03, 'x'}},
	} {
		_, err := ParseCommand(m)
		require.Error(t, err, name)
		require.Contains(t, err.Error(), "rtmp: parse command", name)
	}
}

func TestParseData(t *testing.T) {
	m, err := DataMessage(5, 1, "@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "width", Value: 160.0}})
	require.NoError(t, err)
	vals, err := ParseData(m)
	require.NoError(t, err)
	require.Equal(t, []any{"@setDataFrame", "onMetaData", amf0.ECMAArray{{Key: "width", Value: 160.0}}}, vals)

	vals, err = ParseData(&Message{Type: MsgDataAMF3, Payload: append([]byte{0}, m.Payload...)})
	require.NoError(t, err)
	require.Len(t, vals, 3)

	_, err = ParseData(&Message{Type: MsgAudio})
	require.Error(t, err)
	_, err = ParseData(&Message{Type: MsgDataAMF0, Payload: []byte{0x02, 0, 5}})
	require.ErrorContains(t, err, "rtmp: parse data")
}

func TestStatus(t *testing.T) {
	o := StatusObject(LevelError, "NetStream.Publish.BadName", "taken")
	require.Equal(t, "error", o.String("level"))
	require.Equal(t, "NetStream.Publish.BadName", o.String("code"))
	require.Equal(t, "taken", o.String("description"))
	e := &StatusError{Code: "NetStream.Publish.BadName", Description: "taken"}
	require.Equal(t, "rtmp: status NetStream.Publish.BadName: taken", e.Error())
	require.Equal(t, "rtmp: status X", (&StatusError{Code: "X"}).Error())
}
