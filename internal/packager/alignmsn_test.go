package packager

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAlignMSN: two packagers of one timeline started at different
// keyframes number matching segments alike (ABR renditions).
func TestAlignMSN(t *testing.T) {
	video, audio := testTracks(t)
	var snaps []*Snapshot
	for _, start := range []time.Duration{10 * time.Second, 14 * time.Second} {
		p := New(Options{AlignMSN: true})
		require.NoError(t, p.SetTracks(video, audio))
		f := &feeder{video: video, audio: audio, gop: 50, start: start}
		f.feed(t, p, 20*time.Second)
		snaps = append(snaps, p.Snapshot())
	}
	require.Equal(t, uint64(5), snaps[0].Segments[0].MSN, "10 s / 2 s")
	require.Equal(t, uint64(7), snaps[1].Segments[0].MSN, "14 s / 2 s")
	for _, snap := range snaps {
		for i, s := range snap.Segments {
			require.Equal(t, snap.Segments[0].MSN+uint64(i), s.MSN, "consecutive")
			require.Equal(t, time.Duration(s.MSN)*2*time.Second, s.Start)
		}
	}
}
