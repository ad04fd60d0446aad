package rtmp

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendChunksVectors(t *testing.T) {
	m := &Message{Type: 9, ChunkStreamID: 6, StreamID: 1, Timestamp: 1000, Payload: seq(130, 0)}
	got := AppendChunks(nil, m, 128)
	want := cat(
		[]byte{0x06, 0x00, 0x03, 0xE8, 0x00, 0x00, 130, 9, 1, 0, 0, 0}, m.Payload[:128],
		[]byte{0xC6}, m.Payload[128:],
	)
	require.Equal(t, want, got)

	// Extended timestamp, repeated on the continuation chunk; 2-byte basic
	// header.
	m = &Message{Type: 8, ChunkStreamID: 70, Timestamp: 0x01020304, Payload: seq(5, 0)}
	got = AppendChunks([]byte{0xAA}, m, 3)
	want = cat(
		[]byte{0xAA},
		[]byte{0x00, 6, 0xFF, 0xFF, 0xFF, 0, 0, 5, 8, 0, 0, 0, 0, 1, 2, 3, 4}, m.Payload[:3],
		[]byte{0xC0, 6, 1, 2, 3, 4}, m.Payload[3:],
	)
	require.Equal(t, want, got)

	// 3-byte basic header, exactly 0xFFFFFF uses the extended form.
	m = &Message{Type: 18, ChunkStreamID: 65599, Timestamp: 0xFFFFFF}
	got = AppendChunks(nil, m, 128)
	require.Equal(t, []byte{0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF}, got)

	// Out-of-range chunk stream IDs are clamped; chunk size 0 means 128.
	m = &Message{Type: 1, ChunkStreamID: 0, Payload: seq(129, 0)}
	got = AppendChunks(nil, m, 0)
	require.Equal(t, byte(0x02), got[0])
	require.Equal(t, byte(0xC2), got[12+128])
}

func TestMessageValidate(t *testing.T) {
	require.NoError(t, (&Message{ChunkStreamID: 2}).Validate())
	require.NoError(t, (&Message{ChunkStreamID: 65599}).Validate())
	require.Error(t, (&Message{ChunkStreamID: 1}).Validate())
	require.Error(t, (&Message{ChunkStreamID: 65600}).Validate())
	require.Error(t, (&Message{ChunkStreamID: 3, Payload: make([]byte, 0x1000000)}).Validate())
}

// Property: whatever AppendChunks writes, ChunkReader reads back, for random
// payload sizes, chunk sizes, chunk stream IDs and timestamps (including
// extended ones), with messages of several chunk streams back to back.
func TestAppendChunksRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	csids := []uint32{2, 3, 63, 64, 319, 320, 65599}
	for iter := 0; iter < 300; iter++ {
		chunkSize := uint32(1 + rng.IntN(300))
		if rng.IntN(4) == 0 {
			chunkSize = uint32(1 + rng.IntN(70000))
		}
		var msgs []*Message
		var wire []byte
		for i := 0; i < 1+rng.IntN(8); i++ {
			ts := rng.Uint32()
			switch rng.IntN(3) {
			case 0:
				ts %= 0xFFFFFF
			case 1:
				ts = 0xFFFFFF + uint32(rng.IntN(3)) - 1
			}
			m := &Message{
				Type:          uint8(rng.IntN(25)),
				ChunkStreamID: csids[rng.IntN(len(csids))],
				StreamID:      rng.Uint32(),
				Timestamp:     ts,
				Payload:       seq(rng.IntN(5000), byte(i)),
			}
			msgs = append(msgs, m)
			wire = AppendChunks(wire, m, chunkSize)
		}
		cr := NewChunkReader(bytes.NewReader(wire), Limits{})
		require.NoError(t, cr.SetChunkSize(chunkSize))
		for _, want := range msgs {
			got, err := cr.ReadMessage()
			require.NoError(t, err, "iter %d chunk size %d", iter, chunkSize)
			require.Equal(t, want, got, "iter %d chunk size %d", iter, chunkSize)
		}
		require.Equal(t, uint64(len(wire)), cr.BytesRead())
	}
}

func BenchmarkAppendChunks(b *testing.B) {
	m := &Message{Type: 9, ChunkStreamID: 6, StreamID: 1, Timestamp: 1234, Payload: make([]byte, 20000)}
	var buf []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(m.Payload)))
	for b.Loop() {
		buf = AppendChunks(buf[:0], m, 4096)
	}
}

func BenchmarkChunkReader(b *testing.B) {
	m := &Message{Type: 9, ChunkStreamID: 6, StreamID: 1, Timestamp: 1234, Payload: make([]byte, 20000)}
	wire := AppendChunks(nil, m, 4096)
	r := bytes.NewReader(nil)
	cr := NewChunkReader(r, Limits{})
	_ = cr.SetChunkSize(4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		r.Reset(wire)
		if _, err := cr.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
