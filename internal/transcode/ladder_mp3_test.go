package transcode

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// TestLadderForMP3Source: rungs that copy the source audio encode AAC
// when the source is MP3; explicit bitrates and other codecs stay, and the
// configured ladder is not modified.
func TestLadderForMP3Source(t *testing.T) {
	ladder := []Rung{{Name: "480p", AudioBitrate: 96000}, {Name: "240p"}}
	got := ladderFor(ladder, av.CodecMP3)
	require.Equal(t, int64(96000), got[0].AudioBitrate)
	require.Equal(t, int64(mp3RungAudioBitrate), got[1].AudioBitrate)
	require.Zero(t, ladder[1].AudioBitrate, "the configured ladder is left alone")
	require.Equal(t, ladder, ladderFor(ladder, av.CodecAAC))
	args := ffmpegArgs(got, 2e9, true)
	require.NotContains(t, args, "copy", "no rung copies MP3: %v", args)
}
