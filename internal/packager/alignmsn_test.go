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

// TestAlignMSNAfterGap: a rendition whose transcoder restarted (5 s of
// media missing, its source's timestamps kept) numbers the segments after
// the gap as the source does, the numbers it skipped being gap segments
// (EXT-X-GAP) so that numbering stays consecutive. Old main numbered on
// from where it stopped: the renditions drifted apart by the gap.
func TestAlignMSNAfterGap(t *testing.T) {
	video, audio := testTracks(t)
	src := New(Options{AlignMSN: true})
	require.NoError(t, src.SetTracks(video, audio))
	(&feeder{video: video, audio: audio, gop: 50}).feed(t, src, 30*time.Second)

	rend := New(Options{AlignMSN: true, Window: 10})
	require.NoError(t, rend.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, rend, 10*time.Second)
	f.vn, f.an, f.start, f.disc = 0, 0, 16*time.Second, true // back at 16 s
	f.feed(t, rend, 30*time.Second)

	byStart := map[time.Duration]uint64{}
	for _, s := range src.Snapshot().Segments {
		byStart[s.Start] = s.MSN
	}
	snap := rend.Snapshot()
	gaps := 0
	for i, s := range snap.Segments {
		require.Equal(t, snap.Segments[0].MSN+uint64(i), s.MSN, "consecutive, as playlists number them")
		if s.Gap {
			gaps++
			require.Empty(t, s.Parts)
			require.True(t, s.Complete)
			continue
		}
		if want, ok := byStart[s.Start]; ok {
			require.Equal(t, want, s.MSN, "segment at %s: the source numbers it %d", s.Start, want)
		}
	}
	require.Equal(t, 3, gaps, "10 s..16 s: three 2 s gap segments")
	var gapTime time.Duration
	for _, s := range snap.Segments {
		if s.Gap {
			gapTime += s.Duration
		}
	}
	require.Equal(t, 6*time.Second, gapTime, "the gap segments tile the missing media time")
}
