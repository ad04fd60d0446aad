package transcode

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// oggPage builds one Ogg page holding packets (each under 255 bytes).
func oggPage(packets ...[]byte) []byte {
	h := make([]byte, 27)
	copy(h, "OggS")
	binary.LittleEndian.PutUint64(h[6:], 960)
	h[26] = byte(len(packets))
	for _, p := range packets {
		h = append(h, byte(len(p)))
	}
	for _, p := range packets {
		h = append(h, p...)
	}
	return h
}

func TestOggReader(t *testing.T) {
	stream := append(oggPage([]byte("OpusHead")), oggPage([]byte("OpusTags"))...)
	stream = append(stream, oggPage([]byte{0xfc, 1}, []byte{0xfc, 2})...)
	r := newOggReader(bufio.NewReader(bytes.NewReader(stream)))
	var got [][]byte
	for {
		p, err := r.next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got = append(got, p)
	}
	require.Equal(t, [][]byte{[]byte("OpusHead"), []byte("OpusTags"), {0xfc, 1}, {0xfc, 2}}, got)

	_, err := newOggReader(bufio.NewReader(bytes.NewReader([]byte("NotOggS-------------------------")))).next()
	require.Error(t, err)
}

func TestOpusPacketSamples(t *testing.T) {
	require.Equal(t, 960, opusPacketSamples([]byte{0xfc}))      // CELT FB 20 ms, 1 frame
	require.Equal(t, 1920, opusPacketSamples([]byte{0xfd}))     // 2 frames
	require.Equal(t, 3*960, opusPacketSamples([]byte{0xff, 3})) // code 3, 3 frames
	require.Equal(t, 480, opusPacketSamples([]byte{0x00}))      // SILK NB 10 ms
}
