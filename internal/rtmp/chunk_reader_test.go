package rtmp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func seq(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

func readAll(t *testing.T, in []byte, l Limits) []*Message {
	t.Helper()
	cr := NewChunkReader(bytes.NewReader(in), l)
	var out []*Message
	for {
		m, err := cr.ReadMessage()
		if errors.Is(err, io.EOF) {
			require.Equal(t, uint64(len(in)), cr.BytesRead())
			return out
		}
		require.NoError(t, err)
		out = append(out, m)
	}
}

func readErr(in []byte, l Limits) error {
	cr := NewChunkReader(bytes.NewReader(in), l)
	for {
		if _, err := cr.ReadMessage(); err != nil {
			return err
		}
	}
}

// §5.3.1.1 basic header forms, §5.3.1.2.1 type 0 message header.
func TestChunkReaderType0BasicHeaders(t *testing.T) {
	in := cat(
		// 1-byte basic header, csid 3; ts 1000, len 3, type 20, stream 1 (LE).
		[]byte{0x03, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x03, 20, 1, 0, 0, 0}, []byte("abc"),
		// 2-byte form: csid 64+10 = 74.
		[]byte{0x00, 10, 0, 0, 5, 0, 0, 1, 9, 0, 0, 0, 0}, []byte("v"),
		// 3-byte form: csid 64 + 0x01 + 0x02*256 = 577.
		[]byte{0x01, 0x01, 0x02, 0, 0, 6, 0, 0, 2, 8, 2, 0, 0, 0}, []byte("au"),
	)
	msgs := readAll(t, in, Limits{})
	require.Equal(t, []*Message{
		{Type: 20, ChunkStreamID: 3, StreamID: 1, Timestamp: 1000, Payload: []byte("abc")},
		{Type: 9, ChunkStreamID: 74, StreamID: 0, Timestamp: 5, Payload: []byte("v")},
		{Type: 8, ChunkStreamID: 577, StreamID: 2, Timestamp: 6, Payload: []byte("au")},
	}, msgs)
}

// §5.3.2.1 example 1 style: types 0, 2 and 3 with the same length; plus a
// type 1 that changes length and type.
func TestChunkReaderHeaderTypes(t *testing.T) {
	in := cat(
		[]byte{0x04, 0, 3, 0xE8, 0, 0, 4, 8, 1, 0, 0, 0}, []byte("aaaa"), // t0 ts=1000
		[]byte{0x84, 0, 0, 33}, []byte("bbbb"), // t2 delta 33 -> 1033
		[]byte{0xC4}, []byte("cccc"), // t3 new message, delta 33 -> 1066
		[]byte{0x44, 0, 0, 10, 0, 0, 2, 9}, []byte("dd"), // t1 delta 10, len 2, type 9 -> 1076
		[]byte{0xC4}, []byte("ee"), // t3 new message, delta 10 -> 1086
	)
	msgs := readAll(t, in, Limits{})
	require.Len(t, msgs, 5)
	want := []struct {
		ts  uint32
		typ uint8
		p   string
	}{{1000, 8, "aaaa"}, {1033, 8, "bbbb"}, {1066, 8, "cccc"}, {1076, 9, "dd"}, {1086, 9, "ee"}}
	for i, w := range want {
		require.Equal(t, w.ts, msgs[i].Timestamp, i)
		require.Equal(t, w.typ, msgs[i].Type, i)
		require.Equal(t, w.p, string(msgs[i].Payload), i)
		require.Equal(t, uint32(1), msgs[i].StreamID, i)
		require.Equal(t, uint32(4), msgs[i].ChunkStreamID, i)
	}
}

// A message longer than the chunk size continues in type 3 chunks
// (§5.3.2.2 example 2).
func TestChunkReaderContinuation(t *testing.T) {
	p := seq(307, 0)
	in := cat(
		[]byte{0x06, 0, 0, 40, 0, 0x01, 0x33, 9, 1, 0, 0, 0}, p[:128],
		[]byte{0xC6}, p[128:256],
		[]byte{0xC6}, p[256:],
	)
	msgs := readAll(t, in, Limits{})
	require.Len(t, msgs, 1)
	require.Equal(t, p, msgs[0].Payload)
	require.Equal(t, uint32(40), msgs[0].Timestamp)
}

func TestChunkReaderInterleaved(t *testing.T) {
	video := seq(200, 0)
	audio := seq(150, 100)
	in := cat(
		[]byte{0x06, 0, 0, 10, 0, 0, 200, 9, 1, 0, 0, 0}, video[:128],
		[]byte{0x04, 0, 0, 11, 0, 0, 150, 8, 1, 0, 0, 0}, audio[:128],
		[]byte{0xC6}, video[128:],
		[]byte{0xC4}, audio[128:],
	)
	msgs := readAll(t, in, Limits{})
	require.Len(t, msgs, 2)
	require.Equal(t, video, msgs[0].Payload)
	require.Equal(t, uint8(MsgVideo), msgs[0].Type)
	require.Equal(t, audio, msgs[1].Payload)
	require.Equal(t, uint32(11), msgs[1].Timestamp)
}

// §5.3.1.3: a timestamp field of 0xFFFFFF announces a 32-bit extended
// timestamp, repeated on type 3 continuation chunks.
func TestChunkReaderExtendedTimestamp(t *testing.T) {
	p := seq(200, 0)
	ext := []byte{0x01, 0x00, 0x00, 0x00} // 16777216
	in := cat(
		[]byte{0x06, 0xFF, 0xFF, 0xFF, 0, 0, 200, 9, 1, 0, 0, 0}, ext, p[:128],
		[]byte{0xC6}, ext, p[128:],
		// type 1 with extended delta 0x01000000 -> 33554432
		[]byte{0x46, 0xFF, 0xFF, 0xFF, 0, 0, 1, 9}, ext, []byte{'x'},
		// type 3 new message: repeats the extended delta -> 50331648
		[]byte{0xC6}, ext, []byte{'y'},
		// type 2 back to a small delta: 50331648 + 5
		[]byte{0x86, 0, 0, 5}, []byte{'z'},
	)
	msgs := readAll(t, in, Limits{})
	require.Len(t, msgs, 4)
	require.Equal(t, uint32(0x01000000), msgs[0].Timestamp)
	require.Equal(t, p, msgs[0].Payload)
	require.Equal(t, uint32(0x02000000), msgs[1].Timestamp)
	require.Equal(t, uint32(0x03000000), msgs[2].Timestamp)
	require.Equal(t, []byte{'y'}, msgs[2].Payload)
	require.Equal(t, uint32(0x03000005), msgs[3].Timestamp)
}

// Some encoders do not repeat the extended timestamp on continuation
// chunks; the reader only consumes it when it matches.
func TestChunkReaderExtendedTimestampNotRepeated(t *testing.T) {
	p := seq(200, 0)
	in := cat(
		[]byte{0x06, 0xFF, 0xFF, 0xFF, 0, 0, 200, 9, 1, 0, 0, 0}, []byte{0x01, 0, 0, 0}, p[:128],
		[]byte{0xC6}, p[128:],
	)
	msgs := readAll(t, in, Limits{})
	require.Len(t, msgs, 1)
	require.Equal(t, p, msgs[0].Payload)
}

func TestChunkReaderZeroLengthAndChunkSize(t *testing.T) {
	p := seq(300, 0)
	in := cat(
		[]byte{0x03, 0, 0, 0, 0, 0, 0, 18, 0, 0, 0, 0},
		[]byte{0x03, 0, 0, 0, 0, 0x01, 0x2C, 9, 0, 0, 0, 0}, p,
	)
	cr := NewChunkReader(bytes.NewReader(in), Limits{})
	m, err := cr.ReadMessage()
	require.NoError(t, err)
	require.Empty(t, m.Payload)
	require.NoError(t, cr.SetChunkSize(300))
	m, err = cr.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, p, m.Payload)

	require.Error(t, cr.SetChunkSize(0))
	require.Error(t, cr.SetChunkSize(0x80000000))
	require.Error(t, cr.SetChunkSize(DefaultMaxChunkSize+1))
	require.NoError(t, cr.SetChunkSize(DefaultMaxChunkSize))
}

func TestChunkReaderAbort(t *testing.T) {
	in := cat(
		[]byte{0x06, 0, 0, 1, 0, 0, 200, 9, 1, 0, 0, 0}, seq(128, 0),
		// after Abort, a fresh type 0 header on the same chunk stream
		[]byte{0x06, 0, 0, 2, 0, 0, 1, 9, 1, 0, 0, 0}, []byte{'k'},
	)
	cr := NewChunkReader(bytes.NewReader(in), Limits{})
	_, err := cr.readChunk()
	require.NoError(t, err)
	cr.Abort(6)
	cr.Abort(99) // unknown: no-op
	m, err := cr.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, []byte{'k'}, m.Payload)
}

func TestChunkReaderErrors(t *testing.T) {
	small := Limits{MaxMessageSize: 100, MaxChunkStreams: 2}
	tests := []struct {
		name string
		in   []byte
		l    Limits
		want string
	}{
		{"type 1 first", []byte{0x43, 0, 0, 0, 0, 0, 1, 9}, Limits{}, "without a prior type 0"},
		{"type 2 first", []byte{0x83, 0, 0, 0}, Limits{}, "without a prior type 0"},
		{"type 3 first", []byte{0xC3}, Limits{}, "without a prior type 0"},
		{"message too large", []byte{0x03, 0, 0, 0, 0, 0, 101, 9, 0, 0, 0, 0}, small, "exceeds limit"},
		{"type 1 too large", cat([]byte{0x03, 0, 0, 0, 0, 0, 1, 9, 0, 0, 0, 0, 'a'}, []byte{0x43, 0, 0, 0, 0, 0, 101, 9}), small, "exceeds limit"},
		{"too many chunk streams", cat(
			[]byte{0x03, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0},
			[]byte{0x04, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0},
			[]byte{0x05, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0}), small, "more than 2 chunk streams"},
		{"new header mid-message", cat(
			[]byte{0x03, 0, 0, 0, 0, 0, 200, 9, 0, 0, 0, 0}, seq(128, 0),
			[]byte{0x03, 0, 0, 0, 0, 0, 1, 9, 0, 0, 0, 0}, []byte{1}), Limits{}, "unfinished message"},
		{"truncated header", []byte{0x03, 0, 0}, Limits{}, "unexpected EOF"},
		{"truncated payload", []byte{0x03, 0, 0, 0, 0, 0, 5, 9, 0, 0, 0, 0, 'a'}, Limits{}, "unexpected EOF"},
		{"truncated 2-byte basic header", []byte{0x00}, Limits{}, "unexpected EOF"},
		{"truncated extended timestamp", []byte{0x03, 0xFF, 0xFF, 0xFF, 0, 0, 1, 9, 0, 0, 0, 0, 1}, Limits{}, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readErr(tt.in, tt.l)
			require.Error(t, err)
			require.NotErrorIs(t, err, io.EOF)
			require.True(t, strings.HasPrefix(err.Error(), "rtmp: "), err.Error())
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestChunkReaderCleanEOF(t *testing.T) {
	_, err := NewChunkReader(bytes.NewReader(nil), Limits{}).ReadMessage()
	require.Equal(t, io.EOF, err)
}

// The buffer for a declared-but-unsent large message stays small.
func TestChunkReaderDoesNotTrustDeclaredLength(t *testing.T) {
	in := []byte{0x03, 0, 0, 0, 0x7F, 0xFF, 0xFF, 9, 0, 0, 0, 0, 'a'}
	cr := NewChunkReader(bytes.NewReader(in), Limits{})
	allocs := testing.AllocsPerRun(1, func() {
		cr = NewChunkReader(bytes.NewReader(in), Limits{})
		_, _ = cr.ReadMessage()
	})
	require.Less(t, allocs, 20.0)
	require.LessOrEqual(t, cap(cr.streams[3].buf), DefaultChunkSize)
}
