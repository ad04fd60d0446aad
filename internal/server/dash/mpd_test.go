package dashserver

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	testVideo = &av.Track{Codec: av.CodecH264, Width: 1280, Height: 720, CodecString: "avc1.64001f"}
	testAudio = &av.Track{Codec: av.CodecAAC, SampleRate: 48000, Channels: 2, CodecString: "mp4a.40.2"}
	testEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// testSegments returns n segments of 2 s (the last open, 0.6 s so far
// unless complete), starting at media time start with MSN first.
func testSegments(in *packager.Init, first uint64, start time.Duration, n int, lastComplete bool) []packager.Segment {
	var segs []packager.Segment
	for i := range n {
		st := start + time.Duration(i)*2*time.Second
		seg := packager.Segment{
			MSN: first + uint64(i), Start: st, Duration: 2 * time.Second,
			ProgramDateTime: testEpoch.Add(st), Init: in, Complete: true,
		}
		for k := range 10 {
			seg.Parts = append(seg.Parts, &packager.Part{MSN: seg.MSN, Index: k, Duration: 200 * time.Millisecond,
				Data: make([]byte, 25000)})
		}
		if i == n-1 && !lastComplete {
			seg.Complete, seg.Parts, seg.Duration = false, seg.Parts[:3], 600*time.Millisecond
		}
		segs = append(segs, seg)
	}
	return segs
}

func testOptions() mpdOptions {
	return mpdOptions{
		prefix:              "cam1/dash/",
		utcURL:              "http://example.test/live/cam1/dash/time",
		now:                 testEpoch.Add(time.Minute),
		minimumUpdatePeriod: time.Second,
		frameRate:           func(*packager.Init) string { return "25" },
		trackBytes: func(seg *packager.Segment, id int) int {
			if id == trackVideo {
				return seg.Size() * 9 / 10
			}
			return seg.Size() / 10
		},
	}
}

func checkGolden(t *testing.T, name string, m *MPD) {
	t.Helper()
	got, err := m.Marshal()
	require.NoError(t, err)
	p := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(p, got, 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run go test -update to create %s", p)
	require.Equal(t, string(want), string(got))
}

// A live stream: complete segments and the one being written, which is
// announced with the previous segment's duration (low-latency DASH).
func TestMPDLive(t *testing.T) {
	in := &packager.Init{ID: 0, Tracks: []*av.Track{testVideo, testAudio}, Start: 10 * time.Second}
	snap := &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0a1b2c3d", Segments: testSegments(in, 5, 10*time.Second, 4, false),
		TargetDuration: 2 * time.Second, PartTarget: 200 * time.Millisecond,
	}
	checkGolden(t, "live.mpd", buildMPD(snap, testOptions()))
}

// An ended stream: mediaPresentationDuration, no updates, no
// low-latency attributes.
func TestMPDEnded(t *testing.T) {
	in := &packager.Init{ID: 0, Tracks: []*av.Track{testVideo, testAudio}, Start: 0}
	snap := &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0a1b2c3d", Segments: testSegments(in, 0, 0, 3, true),
		TargetDuration: 2 * time.Second, PartTarget: 200 * time.Millisecond, Ended: true,
	}
	checkGolden(t, "ended.mpd", buildMPD(snap, testOptions()))
}

// A publisher reconnect with the same configuration continues the Period
// (a gap in the timeline gets an explicit t); one with a new
// configuration (new init section) opens a new Period.
func TestMPDReconnect(t *testing.T) {
	in0 := &packager.Init{ID: 0, Tracks: []*av.Track{testVideo, testAudio}, Start: 0}
	segs := testSegments(in0, 0, 0, 2, true)
	gap := testSegments(in0, 2, 4500*time.Millisecond, 2, true) // same config, 0.5 s gap
	gap[0].Discontinuity = true
	segs = append(segs, gap...)
	wide := &av.Track{Codec: av.CodecH264, Width: 1920, Height: 1080, CodecString: "avc1.640028"}
	in1 := &packager.Init{ID: 1, Tracks: []*av.Track{wide, testAudio}, Start: 9 * time.Second}
	next := testSegments(in1, 4, 9*time.Second, 2, false)
	next[0].Discontinuity = true
	segs = append(segs, next...)
	snap := &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0a1b2c3d", Segments: segs,
		TargetDuration: 2 * time.Second, PartTarget: 200 * time.Millisecond,
	}
	checkGolden(t, "reconnect.mpd", buildMPD(snap, testOptions()))
}

// Audio only: one audio AdaptationSet in the audio timescale.
func TestMPDAudioOnly(t *testing.T) {
	in := &packager.Init{ID: 0, Tracks: []*av.Track{testAudio}, Start: 0}
	snap := &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0a1b2c3d", Segments: testSegments(in, 0, 0, 2, false),
		TargetDuration: 2 * time.Second, PartTarget: 200 * time.Millisecond,
	}
	checkGolden(t, "audio_only.mpd", buildMPD(snap, testOptions()))
}

func TestXSDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "PT0S", 2 * time.Second: "PT2S", 1800 * time.Millisecond: "PT1.8S",
		2023 * time.Millisecond: "PT2.023S", 90 * time.Second: "PT90S", 1500 * time.Microsecond: "PT0.002S",
	} {
		require.Equal(t, want, xsDuration(d), d.String())
	}
}

func TestFormatFrameRate(t *testing.T) {
	require.Equal(t, "25", formatFrameRate(25))
	require.Equal(t, "30000/1001", formatFrameRate(29.97003))
	require.Equal(t, "60", formatFrameRate(59.99))
	require.Equal(t, "", formatFrameRate(17.5))
}

func TestParseMediaFile(t *testing.T) {
	for name, want := range map[string]mediaFile{
		"ab12_init0.mp4":           {kind: fileInit, sid: "ab12", epoch: -1},
		"ab12_seg7.m4s":            {kind: fileSegment, sid: "ab12", num: 7, epoch: -1},
		"ab12_v_init1.mp4":         {kind: fileInit, sid: "ab12", track: trackVideo, num: 1, epoch: -1},
		"ab12_a_seg3.m4s":          {kind: fileSegment, sid: "ab12", track: trackAudio, num: 3, epoch: -1},
		"ab12_v_t900.m4s":          {kind: fileSegmentAt, sid: "ab12", track: trackVideo, num: 900, epoch: -1},
		"ab12_a_t0.m4s":            {kind: fileSegmentAt, sid: "ab12", track: trackAudio, epoch: -1},
		"ab12_v_e6040_t543600.m4s": {kind: fileSegmentAt, sid: "ab12", track: trackVideo, num: 543600, epoch: 6040},
		"ab12_a_e0_t5.m4s":         {kind: fileSegmentAt, sid: "ab12", track: trackAudio, num: 5, epoch: 0},
	} {
		got, ok := parseMediaFile(name)
		require.True(t, ok, name)
		require.Equal(t, want, got, name)
	}
	for _, name := range []string{"", "time", "ab12", "ab12_t5.m4s", "ab12_x_seg1.m4s", "ab12_seg01.m4s",
		"ab12_seg.m4s", "ab12_v_seg1.mp4", "_seg1.m4s", "ab12_seg99999999999999999999.m4s",
		"ab12_e5_t1.m4s", "ab12_v_e_t1.m4s", "ab12_v_e5_t.m4s", "ab12_v_e05_t1.m4s", "ab12_v_e5.m4s", "ab12_v_e5_x1.m4s"} {
		_, ok := parseMediaFile(name)
		require.False(t, ok, name)
	}
}

// An ABR ladder: one video AdaptationSet with the source's Representation
// (passthrough) and one per rendition, each with its own SegmentTemplate
// addressing that rendition's media on the source's timeline; the audio
// stays the source's.
func TestMPDLadder(t *testing.T) {
	in := &packager.Init{ID: 0, Tracks: []*av.Track{testVideo, testAudio}, Start: 10 * time.Second}
	snap := &packager.Snapshot{
		Format: packager.FormatFMP4, SessionID: "0a1b2c3d", Segments: testSegments(in, 5, 10*time.Second, 4, false),
		TargetDuration: 2 * time.Second, PartTarget: 200 * time.Millisecond,
	}
	rung := func(name, sid string, w, h int, start time.Duration) rendition {
		v := &av.Track{Codec: av.CodecH264, Width: w, Height: h, CodecString: "avc1.42c01e"}
		rin := &packager.Init{ID: 0, Tracks: []*av.Track{v, testAudio}, Start: start}
		return rendition{name: name, prefix: "cam1_" + name + "/dash/", snap: &packager.Snapshot{
			Format: packager.FormatFMP4, SessionID: sid, Segments: testSegments(rin, 6, 12*time.Second, 3, false),
			TargetDuration: 2 * time.Second, PartTarget: 200 * time.Millisecond,
		}, frameRate: func(*packager.Init) string { return "15" }}
	}
	rs := []rendition{rung("360p", "11111111", 640, 360, 12*time.Second), rung("240p", "22222222", 426, 240, 12*time.Second)}
	m := buildMPD(snap, testOptions())
	addRenditions(m, true, rs, testOptions())
	checkGolden(t, "ladder.mpd", m)

	// Without passthrough, the renditions alone.
	m = buildMPD(snap, testOptions())
	addRenditions(m, false, rs, testOptions())
	require.Len(t, m.Periods[0].AdaptationSets, 2)
	reps := m.Periods[0].AdaptationSets[0].Representations
	require.Len(t, reps, 2)
	require.Equal(t, "360p_v0", reps[0].ID)
	require.Equal(t, "240p_v0", reps[1].ID)
	require.Nil(t, m.Periods[0].AdaptationSets[0].SegmentTemplate)
	require.NotNil(t, m.Periods[0].AdaptationSets[1].SegmentTemplate)
}
