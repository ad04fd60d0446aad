package hlsserver

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGapSegmentPlaylist: a gap segment (media time the stream skipped,
// numbered so that renditions stay aligned) is listed with EXT-X-GAP
// (RFC 8216bis §4.4.4.7) and no parts, so players never load it.
func TestGapSegmentPlaylist(t *testing.T) {
	snap := testSnapshot(false)
	gap := &snap.Segments[3]
	gap.Gap, gap.Parts, gap.Init = true, nil, nil
	for _, ll := range []bool{true, false} {
		got := string(renderPlaylist(snap, playlistOptions{lowLatency: ll, prefix: "cam1/hls/"}))
		require.Contains(t, got, "#EXT-X-GAP\n#EXTINF:2.00000,\ncam1/hls/0badc0de_seg13.m4s\n", got)
		require.Equal(t, 1, strings.Count(got, "#EXT-X-GAP"), got)
		require.NotContains(t, got, "_part13.", got)
	}
}
