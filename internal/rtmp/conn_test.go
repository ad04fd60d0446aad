package rtmp

import (
	"bytes"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// serverConn returns a Conn whose peer is driven by the test through the
// returned raw net.Conn and a ChunkReader on it.
func connPair(t *testing.T) (*Conn, net.Conn, *ChunkReader) {
	a, b := pipe(t)
	return NewConn(a, Limits{}), b, NewChunkReader(b, Limits{})
}

func writeRaw(t *testing.T, w net.Conn, msgs ...*Message) {
	t.Helper()
	var buf []byte
	for _, m := range msgs {
		buf = AppendChunks(buf, m, DefaultChunkSize)
	}
	go func() { _, _ = w.Write(buf) }()
}

// §5.4.4: after a Window Acknowledgement Size, the receiver acknowledges
// each window's worth of bytes.
func TestConnAcknowledgesWindow(t *testing.T) {
	c, peer, pr := connPair(t)
	const window = 1000
	msgs := []*Message{WindowAckSizeMessage(window)}
	for range 6 {
		msgs = append(msgs, &Message{Type: MsgVideo, ChunkStreamID: 6, StreamID: 1, Payload: make([]byte, 400)})
	}
	writeRaw(t, peer, msgs...)

	m, err := c.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, uint8(MsgWindowAckSize), m.Type, "control messages are returned too")
	require.Equal(t, uint32(window), c.PeerWindowAckSize())

	acks := make(chan *Message, 10)
	go func() {
		for {
			m, err := pr.ReadMessage()
			if err != nil {
				close(acks)
				return
			}
			acks <- m
		}
	}()
	for range 6 {
		_, err := c.ReadMessage()
		require.NoError(t, err)
	}
	// 16 bytes for the window message + 6 * (12 + 400 + 3 continuation headers).
	require.Equal(t, uint64(16+6*(12+400+3)), c.BytesRead())
	ack1 := <-acks
	require.Equal(t, uint8(MsgAck), ack1.Type)
	seq1, _ := ParseUint32Control(ack1.Payload)
	ack2 := <-acks
	seq2, _ := ParseUint32Control(ack2.Payload)
	require.Equal(t, uint32(16+3*415), seq1, "first ack once 1000 bytes were read")
	require.Equal(t, uint32(16+6*415), seq2, "second ack 1000 bytes later")
	require.Equal(t, uint64(2*16), c.BytesWritten())
}

func TestConnControl(t *testing.T) {
	c, peer, pr := connPair(t)
	big := &Message{Type: MsgAudio, ChunkStreamID: 4, Payload: seq(300, 0)}
	var buf []byte
	buf = AppendChunks(buf, SetChunkSizeMessage(300), DefaultChunkSize)
	buf = AppendChunks(buf, big, 300)
	buf = AppendChunks(buf, AckMessage(12345), 300)
	buf = AppendChunks(buf, UserControl{Event: UCPingRequest, Timestamp: 99}.Message(), 300)
	go func() { _, _ = peer.Write(buf) }()

	m, err := c.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, uint8(MsgSetChunkSize), m.Type)
	require.Equal(t, uint32(300), c.InChunkSize())
	m, err = c.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, big.Payload, m.Payload)
	_, err = c.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, uint32(12345), c.PeerAcked())

	pong := make(chan *Message, 1)
	go func() {
		m, _ := pr.ReadMessage()
		pong <- m
	}()
	m, err = c.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, uint8(MsgUserControl), m.Type)
	resp := <-pong
	require.NotNil(t, resp)
	u, err := ParseUserControl(resp.Payload)
	require.NoError(t, err)
	require.Equal(t, UserControl{Event: UCPingResponse, Timestamp: 99}, u)
}

func TestConnRejectsBadControl(t *testing.T) {
	for name, m := range map[string]*Message{
		"chunk size 0":       SetChunkSizeMessage(0),
		"chunk size too big": SetChunkSizeMessage(DefaultMaxChunkSize + 1),
		"short window":       {Type: MsgWindowAckSize, ChunkStreamID: 2, Payload: []byte{1}},
		"short user control": {Type: MsgUserControl, ChunkStreamID: 2, Payload: []byte{0, 6}},
	} {
		c := NewConn(&rwPair{r: bytes.NewReader(AppendChunks(nil, m, 128))}, Limits{})
		_, err := c.ReadMessage()
		require.Error(t, err, name)
	}
}

func TestConnWriteSide(t *testing.T) {
	var out bytes.Buffer
	c := NewConn(&rwPair{r: bytes.NewReader(nil), w: &out}, Limits{})
	require.Equal(t, uint32(128), c.OutChunkSize())
	require.NoError(t, c.SetOutChunkSize(4096))
	require.Equal(t, uint32(4096), c.OutChunkSize())
	require.Error(t, c.SetOutChunkSize(0))
	require.Error(t, c.SetOutChunkSize(0x80000000))

	video := &Message{Type: MsgVideo, ChunkStreamID: 6, StreamID: 1, Timestamp: 40, Payload: seq(5000, 0)}
	require.NoError(t, c.WriteMessage(video))
	require.Error(t, c.WriteMessage(&Message{Type: MsgVideo, ChunkStreamID: 1}))

	pre := AppendChunks(nil, video, c.OutChunkSize())
	bufs := net.Buffers{pre[:10], pre[10:]}
	require.NoError(t, c.WriteBuffers(&bufs))
	require.Equal(t, uint64(out.Len()), c.BytesWritten())

	cr := NewChunkReader(&out, Limits{})
	m, err := cr.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, uint8(MsgSetChunkSize), m.Type)
	n, _ := ParseUint32Control(m.Payload)
	require.NoError(t, cr.SetChunkSize(n))
	for range 2 {
		m, err = cr.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, video, m)
	}
}

// Concurrent writers never interleave chunks of different messages.
func TestConnConcurrentWriters(t *testing.T) {
	var out lockedBuffer
	c := NewConn(&rwPair{r: bytes.NewReader(nil), w: &out}, Limits{})
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 50 {
				m := &Message{Type: MsgVideo, ChunkStreamID: 6, StreamID: uint32(w), Timestamp: uint32(i), Payload: seq(300, byte(w))}
				if i%2 == 0 {
					_ = c.WriteMessage(m)
				} else {
					bufs := net.Buffers{AppendChunks(nil, m, c.OutChunkSize())}
					_ = c.WriteBuffers(&bufs)
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	cr := NewChunkReader(bytes.NewReader(out.b.Bytes()), Limits{})
	for range 200 {
		m, err := cr.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, seq(300, byte(m.StreamID)), m.Payload)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
