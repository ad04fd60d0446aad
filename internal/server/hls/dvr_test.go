package hlsserver

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/packager"
)

// dvrSnapshot is a long DVR window: n complete 2 s segments of ten
// 200 ms parts (a republish with a new init section at segment disc),
// then an open segment with three parts.
func dvrSnapshot(n, disc int) *packager.Snapshot {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	init0, init1 := &packager.Init{ID: 0}, &packager.Init{ID: 1}
	snap := &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0badc0de",
		TargetDuration: 2 * time.Second, PartTarget: 200 * time.Millisecond,
		DiscontinuitySequence: 4, DVRWindow: time.Duration(n) * 2 * time.Second,
	}
	for i := 0; i <= n; i++ {
		msn := uint64(100 + i)
		s := packager.Segment{
			MSN: msn, Start: time.Duration(i) * 2 * time.Second, Init: init0,
			ProgramDateTime: t0.Add(time.Duration(i) * 2 * time.Second),
			Complete:        i < n, Discontinuity: i == disc,
		}
		if i >= disc {
			s.Init = init1
		}
		parts := 10
		if i == n {
			parts = 3
		}
		for j := 0; j < parts; j++ {
			s.Parts = append(s.Parts, &packager.Part{MSN: msn, Index: j, Duration: 200 * time.Millisecond, Independent: j == 0})
			s.Duration += 200 * time.Millisecond
		}
		snap.Segments = append(snap.Segments, s)
	}
	return snap
}

// A long window lists its older segments whole: parts only for the
// newest two complete segments and the open one.
func TestPlaylistDVRWindowParts(t *testing.T) {
	snap := dvrSnapshot(900, 450) // 30 min
	got := string(renderPlaylist(snap, playlistOptions{lowLatency: true, prefix: "p/"}))
	require.Equal(t, 900, strings.Count(got, "#EXTINF:"), "every complete segment listed")
	require.Equal(t, 23, strings.Count(got, "#EXT-X-PART:"), "parts of the newest two complete segments and the open one")
	require.Contains(t, got, "#EXT-X-MEDIA-SEQUENCE:100\n")
	require.Contains(t, got, "#EXT-X-DISCONTINUITY-SEQUENCE:4\n")
	require.Equal(t, 2, strings.Count(got, "#EXT-X-MAP:"))
	require.Contains(t, got, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,")
	require.Contains(t, got, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"p/0badc0de_part1000.3.m4s\"\n")
}

// A delta update of a long window skips everything older than the Skip
// Boundary (six target durations before the live edge); the sequence
// numbers stay those of the full playlist, and the remaining segments
// name their init section again.
func TestPlaylistDVRWindowDeltaUpdate(t *testing.T) {
	snap := dvrSnapshot(900, 450)
	full := string(renderPlaylist(snap, playlistOptions{lowLatency: true, prefix: "p/"}))
	got := string(renderPlaylist(snap, playlistOptions{lowLatency: true, skip: true, prefix: "p/"}))
	// 1800.6 s listed, boundary 1788.6 s: 894 whole segments end by it.
	require.Contains(t, got, "#EXT-X-SKIP:SKIPPED-SEGMENTS=894\n")
	require.Equal(t, 6, strings.Count(got, "#EXTINF:"))
	require.Contains(t, got, "#EXT-X-MEDIA-SEQUENCE:100\n")
	require.Contains(t, got, "#EXT-X-DISCONTINUITY-SEQUENCE:4\n")
	require.Equal(t, 1, strings.Count(got, "#EXT-X-MAP:"))
	require.Contains(t, got, "#EXT-X-MAP:URI=\"p/0badc0de_init1.mp4\"\n")
	require.NotContains(t, got, "#EXT-X-DISCONTINUITY\n", "the discontinuity is among the skipped segments")
	// The delta's tail is the full playlist's.
	i := strings.Index(full, "#EXT-X-PROGRAM-DATE-TIME:2025-01-02T03:33:53.000Z")
	j := strings.Index(got, "#EXT-X-PROGRAM-DATE-TIME:2025-01-02T03:33:53.000Z")
	require.Positive(t, i)
	require.Positive(t, j)
	require.Equal(t, full[i:], got[j:])
}
