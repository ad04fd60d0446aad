package av

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMP3Config(t *testing.T) {
	for _, tc := range []struct {
		name       string
		frame      []byte
		rate, ch   int
		codecParam string
	}{
		{"MPEG-1 44.1 kHz joint stereo", []byte{0xFF, 0xFB, 0x90, 0x64}, 44100, 2, "mp4a.6B"},
		{"MPEG-1 48 kHz mono, CRC", []byte{0xFF, 0xFA, 0x94, 0xC4}, 48000, 1, "mp4a.6B"},
		{"MPEG-2 22.05 kHz", []byte{0xFF, 0xF3, 0x80, 0x04}, 22050, 2, "mp4a.69"},
		{"MPEG 2.5 8 kHz", []byte{0xFF, 0xE3, 0x88, 0x04}, 8000, 2, "mp4a.69"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := MP3Config(append(tc.frame, 1, 2, 3))
			require.NoError(t, err)
			tr, err := NewTrack(CodecMP3, cfg)
			require.NoError(t, err)
			require.Equal(t, tc.rate, tr.SampleRate)
			require.Equal(t, tc.ch, tr.Channels)
			require.Equal(t, tc.codecParam, tr.CodecString)
			require.Equal(t, KindAudio, tr.Kind())
			require.Equal(t, "mp3", tr.Codec.String())
		})
	}
	// Bitrate and padding do not change the config.
	a, _ := MP3Config([]byte{0xFF, 0xFB, 0x90, 0x64})
	b, _ := MP3Config([]byte{0xFF, 0xFB, 0xA2, 0x64})
	require.Equal(t, a, b)

	for _, bad := range [][]byte{nil, {0xFF, 0xFB, 0x90}, {0, 0, 0, 0}, {0xFF, 0xEB, 0x90, 0}, {0xFF, 0xFD, 0x90, 0}, {0xFF, 0xFB, 0x9C, 0}} {
		_, err := MP3Config(bad)
		require.Error(t, err, "% x", bad)
	}
	tr, err := NewTrack(CodecMP3, nil)
	require.NoError(t, err)
	require.Zero(t, tr.SampleRate)
}
