package rtmp

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// msgHeader returns a type-0 chunk header on csid declaring a message of
// length bytes of type typ.
func msgHeader(csid byte, length int, typ byte) []byte {
	return []byte{csid, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), typ, 1, 0, 0, 0}
}

// The amplification of issue 11: a peer raises the chunk size to 8 MiB and
// starts 8 MiB messages on many chunk streams, sending a few bytes of each.
// The reader must hold about what was sent, not what was declared.
func TestChunkReaderBuffersOnlyWhatArrives(t *testing.T) {
	in := AppendChunks(nil, SetChunkSizeMessage(8<<20), DefaultChunkSize)
	for csid := byte(3); csid < 40; csid++ {
		in = append(in, msgHeader(csid, 8<<20-1, MsgVideo)...)
		in = append(in, seq(10, 0)...)
	}
	c := NewConn(&rwPair{r: bytes.NewReader(in)}, Limits{MaxChunkSize: 16 << 20})
	_, err := c.ReadMessage() // Set Chunk Size
	require.NoError(t, err)
	_, err = c.ReadMessage() // blocks on the first message's missing data: EOF here
	require.Error(t, err)
	// Each stream may hold at most one first allocation (4 KiB); on the
	// old code the first stream alone held 8 MiB.
	require.LessOrEqual(t, c.Unfinished(), int64(minMessageAlloc),
		"unfinished bytes after a 10-byte chunk of an 8 MiB message")
	for csid, cs := range c.cr.streams {
		require.LessOrEqual(t, cap(cs.buf), minMessageAlloc, "chunk stream %d buffer", csid)
	}
}

// While restricted, only small messages and chunk sizes are accepted;
// ffmpeg's and OBS's command phase fits.
func TestChunkReaderRestricted(t *testing.T) {
	newReader := func(in []byte) *ChunkReader {
		cr := NewChunkReader(bytes.NewReader(in), Limits{})
		cr.SetRestricted(true)
		return cr
	}
	require.NoError(t, newReader(nil).SetChunkSize(4096))
	require.NoError(t, newReader(nil).SetChunkSize(DefaultRestrictedMaxChunkSize))
	err := newReader(nil).SetChunkSize(DefaultRestrictedMaxChunkSize + 1)
	require.ErrorContains(t, err, "before publishing")

	connect := &Message{Type: MsgCommandAMF0, ChunkStreamID: 3, Payload: seq(600, 0)}
	m, err := newReader(AppendChunks(nil, connect, 128)).ReadMessage()
	require.NoError(t, err)
	require.Len(t, m.Payload, 600)

	big := &Message{Type: MsgVideo, ChunkStreamID: 6, StreamID: 1, Payload: seq(DefaultRestrictedMaxMessageSize+1, 0)}
	_, err = newReader(AppendChunks(nil, big, 4096)).ReadMessage()
	require.ErrorContains(t, err, "exceeds limit 16384 before publishing")

	// Lifting the restriction admits it.
	cr := newReader(AppendChunks(nil, big, 4096))
	require.NoError(t, cr.SetChunkSize(4096))
	cr.SetRestricted(false)
	m, err = cr.ReadMessage()
	require.NoError(t, err)
	require.Len(t, m.Payload, len(big.Payload))
	require.Zero(t, cr.Unfinished())

	// Many small unfinished messages hit the restricted per-connection bound.
	var in []byte
	for csid := byte(3); csid < 63; csid++ {
		in = append(in, msgHeader(csid, 16000, MsgCommandAMF0)...)
		in = append(in, seq(128, 0)...)
		for range 15 { // 2 KiB of each
			in = append(in, 0xC0|csid)
			in = append(in, seq(128, 0)...)
		}
	}
	cr = newReader(in)
	_, err = cr.ReadMessage()
	require.ErrorIs(t, err, ErrUnfinishedLimit)
	require.LessOrEqual(t, cr.Unfinished(), int64(DefaultRestrictedMaxUnfinishedBytes))
}

// Unfinished messages of one connection together stay within
// MaxUnfinishedBytes.
func TestChunkReaderUnfinishedLimit(t *testing.T) {
	l := Limits{MaxMessageSize: 1 << 20, MaxUnfinishedBytes: 1 << 20}
	in := AppendChunks(nil, SetChunkSizeMessage(300<<10), DefaultChunkSize)
	in = append(in, msgHeader(4, 300<<10, MsgVideo)...)
	in = append(in, bytes.Repeat([]byte{0}, 300<<10)...) // completes: its bytes leave the count
	for csid := byte(5); csid < 10; csid++ {             // one 300 KiB chunk of 1 MiB messages
		in = append(in, msgHeader(csid, 1<<20, MsgVideo)...)
		in = append(in, bytes.Repeat([]byte{1}, 300<<10)...)
	}
	c := NewConn(&rwPair{r: bytes.NewReader(in)}, l)
	for i := 0; i < 2; i++ {
		_, err := c.ReadMessage()
		require.NoError(t, err, "message %d", i)
	}
	_, err := c.ReadMessage()
	require.ErrorIs(t, err, ErrUnfinishedLimit)
	require.LessOrEqual(t, c.Unfinished(), int64(1<<20))
}

// A Budget shared by readers bounds them together, and Release gives the
// bytes back.
func TestChunkReaderSharedBudget(t *testing.T) {
	b := NewBudget(64 << 10)
	l := Limits{Budget: b}
	part := func() []byte { return cat(msgHeader(4, 100_000, MsgVideo), seq(128, 0)) }
	var readers []*ChunkReader
	var err error
	for i := 0; i < 1000 && !errors.Is(err, ErrBudgetExhausted); i++ {
		in := part()
		for range 250 { // continuation chunks: 32 KiB in all
			in = append(in, 0xC4)
			in = append(in, seq(128, 0)...)
		}
		cr := NewChunkReader(bytes.NewReader(in), l)
		readers = append(readers, cr)
		_, err = cr.ReadMessage()
		require.Error(t, err)
		require.LessOrEqual(t, b.Used(), b.Limit())
	}
	require.ErrorIs(t, err, ErrBudgetExhausted, "after %d readers", len(readers))
	require.Less(t, len(readers), 10, "a 64 KiB budget took %d readers of 32 KiB", len(readers))
	for _, cr := range readers {
		cr.Release()
	}
	require.Zero(t, b.Used(), "bytes left reserved after Release")
}

// A message that stays partial longer than MessageTimeout ends the read,
// even while the peer keeps completing small control messages.
func TestChunkReaderMessageTimeout(t *testing.T) {
	now := time.Unix(1000, 0)
	in := cat(msgHeader(6, 1000, MsgVideo), seq(128, 0))
	for range 10 {
		in = append(in, AppendChunks(nil, AckMessage(1), 128)...)
	}
	cr := NewChunkReader(bytes.NewReader(in), Limits{MessageTimeout: 10 * time.Second})
	cr.now = func() time.Time { return now }
	var err error
	acks := 0
	for err == nil {
		var m *Message
		m, err = cr.ReadMessage()
		if err == nil {
			require.Equal(t, uint8(MsgAck), m.Type)
			acks++
			now = now.Add(4 * time.Second) // a control message every 4 s
		}
	}
	require.ErrorIs(t, err, ErrMessageTimeout)
	require.Equal(t, 3, acks, "acks read before the 10 s timeout fired: %v", fmt.Sprint(err))
}
