package av

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// mp3Frame returns a Layer III frame of the header's length (zero payload).
func mp3Frame(t testing.TB, h []byte) []byte {
	t.Helper()
	l := mp3FrameLen(h)
	require.Positive(t, l, "header % x", h)
	return append(append([]byte{}, h...), make([]byte, l-4)...)
}

func TestMP3FrameCount(t *testing.T) {
	v1 := []byte{0xFF, 0xFB, 0x90, 0x64}      // MPEG-1, 128 kbit/s, 44.1 kHz
	v1pad := []byte{0xFF, 0xFB, 0x92, 0x64}   // the same with the padding bit
	lsf := []byte{0xFF, 0xF3, 0x80, 0x04}     // MPEG-2, 64 kbit/s, 22.05 kHz
	free := []byte{0xFF, 0xFB, 0x00, 0x64}    // free format: length unknown
	require.Equal(t, 417, mp3FrameLen(v1))    // 144 × 128000 / 44100
	require.Equal(t, 418, mp3FrameLen(v1pad)) // + 1 padding byte
	require.Equal(t, 208, mp3FrameLen(lsf))   // 72 × 64000 / 22050
	require.Equal(t, 0, mp3FrameLen(free))

	one, padded, low := mp3Frame(t, v1), mp3Frame(t, v1pad), mp3Frame(t, lsf)
	require.Equal(t, 1, MP3FrameCount(one))
	require.Equal(t, 3, MP3FrameCount(bytes.Join([][]byte{one, padded, one}, nil)))
	require.Equal(t, 2, MP3FrameCount(append(append([]byte{}, low...), low...)))
	// A truncated last frame or trailing garbage is not counted.
	require.Equal(t, 1, MP3FrameCount(append(append([]byte{}, one...), padded[:100]...)))
	require.Equal(t, 1, MP3FrameCount(append(append([]byte{}, one...), 0, 1, 2, 3, 4)))
	require.Equal(t, 0, MP3FrameCount(nil))
	require.Equal(t, 0, MP3FrameCount(free))

	for _, tc := range []struct {
		hdr  []byte
		want int
	}{{v1, 1152}, {lsf, 576}, {[]byte{0xFF, 0xE3, 0x88, 0x04}, 576}} { // MPEG 2.5 8 kHz
		cfg, err := MP3Config(tc.hdr)
		require.NoError(t, err)
		tr, err := NewTrack(CodecMP3, cfg)
		require.NoError(t, err)
		require.Equal(t, tc.want, MP3FrameSamples(tr), "% x", tc.hdr)
	}
	require.Equal(t, 1152, MP3FrameSamples(&Track{Codec: CodecMP3}), "unknown parameters count as MPEG-1")
}

// FuzzMP3FrameCount walks arbitrary bytes as MP3 frames: it must not panic
// and the frames it counts must fit in the input.
func FuzzMP3FrameCount(f *testing.F) {
	f.Add([]byte{0xFF, 0xFB, 0x90, 0x64})
	f.Add(mp3Frame(f, []byte{0xFF, 0xF3, 0x80, 0x04}))
	f.Add(bytes.Repeat(mp3Frame(f, []byte{0xFF, 0xFB, 0x92, 0x64}), 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := MP3FrameCount(data)
		if n < 0 || n*24 > len(data) { // the shortest Layer III frame: 8 kbit/s at 24 kHz, 24 bytes
			t.Fatalf("%d frames in %d bytes", n, len(data))
		}
	})
}
