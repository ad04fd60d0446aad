package hlsserver

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/packager"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testSnapshot is 9 s of a stream: 4 complete 2 s segments (the third
// after a reconnect, with a new init section), then an open segment with
// three 200 ms parts.
func testSnapshot(ended bool) *packager.Snapshot {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	init0, init1 := &packager.Init{ID: 0}, &packager.Init{ID: 1}
	snap := &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0badc0de",
		TargetDuration: 2 * time.Second, PartTarget: 200 * time.Millisecond,
		DiscontinuitySequence: 3, Ended: ended,
	}
	for i := 0; i < 5; i++ {
		msn := uint64(10 + i)
		s := packager.Segment{
			MSN: msn, Start: time.Duration(i) * 2 * time.Second, Init: init0,
			ProgramDateTime: t0.Add(time.Duration(i) * 2 * time.Second),
			Complete:        i < 4, Discontinuity: i == 2,
		}
		if i >= 2 {
			s.Init = init1
		}
		n := 10
		if i == 4 {
			n = 3
		}
		for j := 0; j < n; j++ {
			s.Parts = append(s.Parts, &packager.Part{MSN: msn, Index: j, Duration: 200 * time.Millisecond, Independent: j == 0})
			s.Duration += 200 * time.Millisecond
		}
		snap.Segments = append(snap.Segments, s)
	}
	if ended {
		snap.Segments[4].Complete = true
	}
	return snap
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.Equal(t, string(want), string(got))
}

func TestPlaylistGolden(t *testing.T) {
	ts := testSnapshot(false)
	ts.Format = packager.FormatMPEGTS
	for i := range ts.Segments {
		ts.Segments[i].Parts, ts.Segments[i].Init = nil, nil
	}
	cases := []struct {
		name string
		snap *packager.Snapshot
		o    playlistOptions
	}{
		{"lowlatency.m3u8", testSnapshot(false), playlistOptions{lowLatency: true, prefix: "cam1/hls/"}},
		{"lowlatency_skip.m3u8", testSnapshot(false), playlistOptions{lowLatency: true, skip: true, prefix: "cam1/hls/", partSegments: 1}},
		{"lowlatency_ended.m3u8", testSnapshot(true), playlistOptions{lowLatency: true, prefix: "cam1/hls/"}},
		{"fmp4.m3u8", testSnapshot(false), playlistOptions{prefix: "cam1/hls/"}},
		{"mpegts.m3u8", ts, playlistOptions{prefix: "cam1/hls/"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { golden(t, c.name, renderPlaylist(c.snap, c.o)) })
	}
}

func TestSkipNeedsSixTargetDurations(t *testing.T) {
	// 8.6 s listed, CAN-SKIP-UNTIL 12 s: nothing may be skipped.
	got := string(renderPlaylist(testSnapshot(false), playlistOptions{lowLatency: true, skip: true}))
	require.NotContains(t, got, "EXT-X-SKIP")
	// 4 s segments... with a 1 s target, CAN-SKIP-UNTIL is 6 s: the first
	// segment (ends 6.6 s before the live edge) is skipped.
	snap := testSnapshot(false)
	snap.TargetDuration = time.Second
	got = string(renderPlaylist(snap, playlistOptions{lowLatency: true, skip: true}))
	require.Contains(t, got, "#EXT-X-SKIP:SKIPPED-SEGMENTS=1\n")
}

func TestMediaFileNames(t *testing.T) {
	for _, c := range []struct {
		name string
		want mediaFile
	}{
		{initName("ab12", 3), mediaFile{kind: fileInit, sid: "ab12", msn: 3}},
		{segmentName("ab12", 42, false), mediaFile{kind: fileSegment, sid: "ab12", msn: 42}},
		{segmentName("ab12", 42, true), mediaFile{kind: fileTS, sid: "ab12", msn: 42}},
		{partName("ab12", 42, 7), mediaFile{kind: filePart, sid: "ab12", msn: 42, index: 7}},
	} {
		got, ok := parseMediaFile(c.name)
		require.True(t, ok, c.name)
		require.Equal(t, c.want, got, c.name)
	}
	for _, bad := range []string{"", "seg1.m4s", "ab_seg.m4s", "ab_seg01.m4s", "ab_part1.m4s", "ab_part1.x.m4s", "ab_seg-1.ts", "ab_init1.m4s", "ab_seg99999999999999999999.m4s"} {
		_, ok := parseMediaFile(bad)
		require.False(t, ok, bad)
	}
}
