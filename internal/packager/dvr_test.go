package packager

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// listedSpan sums the durations of a snapshot's complete segments.
func listedSpan(snap *Snapshot) (span time.Duration, complete int) {
	for _, s := range snap.Segments {
		if s.Complete {
			span += s.Duration
			complete++
		}
	}
	return span, complete
}

func TestDVRWindowTrimsByDuration(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{Window: 3, Retain: 2, DVRWindow: 10 * time.Second})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50} // 2 s GOPs: 2 s segments

	// Before the window fills, every complete segment is listed.
	f.feed(t, p, 7*time.Second)
	span, n := listedSpan(p.Snapshot())
	require.Equal(t, 3, n, "complete segments after 7 s of 2 s GOPs")
	require.Equal(t, 6*time.Second, span)
	f.feed(t, p, 11*time.Second)
	snap0 := p.Snapshot()
	_, n = listedSpan(snap0)
	require.Equal(t, 5, n, "a young stream lists all it has")
	require.Equal(t, uint64(0), snap0.Segments[0].MSN)

	f.feed(t, p, 41*time.Second)
	snap := p.Snapshot()
	span, n = listedSpan(snap)
	require.Equal(t, 5, n, "10 s of 2 s segments listed")
	require.Equal(t, 10*time.Second, span)
	first := snap.Segments[0].MSN
	require.NotNil(t, p.Part(first-2, 0), "Retain segments kept behind the listed ones")
	require.Nil(t, p.Part(first-3, 0), "older than the window plus Retain: dropped")

	// A segment is listed while the newer ones sum to less than the
	// window: 11 s lists 6 segments (12 s), never less than asked.
	p = New(Options{Window: 3, Retain: 2, DVRWindow: 11 * time.Second})
	require.NoError(t, p.SetTracks(video, audio))
	f = &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 41*time.Second)
	span, n = listedSpan(p.Snapshot())
	require.Equal(t, 6, n)
	require.Equal(t, 12*time.Second, span)

	// A window shorter than Window segments lists Window segments.
	p = New(Options{Window: 7, Retain: 2, DVRWindow: 3 * time.Second})
	require.NoError(t, p.SetTracks(video, audio))
	f = &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 41*time.Second)
	_, n = listedSpan(p.Snapshot())
	require.Equal(t, 7, n)
}

func TestDVRWindowTrimsByByteBudget(t *testing.T) {
	video, audio := testTracks(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	// Measure a segment's size first: the feeder's segments are alike.
	probe := New(Options{Window: 3, Retain: 1})
	require.NoError(t, probe.SetTracks(video, audio))
	pf := &feeder{video: video, audio: audio, gop: 50}
	pf.feed(t, probe, 5*time.Second)
	seg := probe.Snapshot().Segments[1]
	require.True(t, seg.Complete)
	size := int64(seg.Size())

	// A budget of about 8 segments with a window asking for 20.
	p := New(Options{Window: 3, Retain: 1, DVRWindow: 40 * time.Second, DVRMaxBytes: 8*size + size/2, Logger: log})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 61*time.Second)
	snap := p.Snapshot()
	_, n := listedSpan(snap)
	require.Equal(t, 7, n, "8 segments fit the budget, one of them kept behind the listed (Retain)")
	first := snap.Segments[0].MSN
	require.NotNil(t, p.Part(first-1, 0), "the Retain segment")
	require.Nil(t, p.Part(first-2, 0), "beyond the budget: dropped")

	p.win.mu.Lock()
	require.LessOrEqual(t, p.win.bytes, 8*size+size/2, "retained bytes within the budget")
	p.win.mu.Unlock()
	require.Equal(t, 1, strings.Count(logs.String(), "hls dvr window shortened"), "one log line per stream, got:\n%s", logs.String())

	// A budget smaller than the newest Window+Retain segments keeps them.
	p = New(Options{Window: 3, Retain: 1, DVRWindow: 40 * time.Second, DVRMaxBytes: 1, Logger: log})
	require.NoError(t, p.SetTracks(video, audio))
	f = &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 31*time.Second)
	_, n = listedSpan(p.Snapshot())
	require.Equal(t, 3, n, "never fewer than Window segments")
}

func TestDVRWindowOffKeepsWindow(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{Window: 4, Retain: 1, DVRMaxBytes: 1})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 31*time.Second)
	snap := p.Snapshot()
	_, n := listedSpan(snap)
	require.Equal(t, 4, n)
	require.Zero(t, snap.DVRWindow)
	require.NotNil(t, p.Part(snap.Segments[0].MSN-1, 0), "Retain kept whatever the budget")
}

func TestDVRWindowSegmentCap(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{Window: 3, Retain: 1, DVRWindow: time.Hour})
	p.win.maxSegs = 8
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 41*time.Second)
	_, n := listedSpan(p.Snapshot())
	require.Equal(t, 8, n, "at most maxSegs listed")
	p.win.mu.Lock()
	require.Equal(t, 9, len(p.win.segs)-1, "the listed ones and Retain, besides the open segment")
	p.win.mu.Unlock()
}

// A DVR window keeping the segments before a skip in media time has its
// gap segments tile all of the missing time, not just the newest Window
// segments' worth: the older segments keep their place on the timeline.
func TestDVRWindowGapTilesSkippedTime(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{AlignMSN: true, Window: 3, Retain: 1, DVRWindow: time.Minute})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 10*time.Second)
	f.vn, f.an, f.start, f.disc = 0, 0, 30*time.Second, true // back at 30 s
	f.feed(t, p, 41*time.Second)
	snap := p.Snapshot()
	require.Equal(t, uint64(0), snap.Segments[0].MSN, "everything since 0 s listed")
	var gapTime time.Duration
	for i, s := range snap.Segments {
		require.Equal(t, uint64(i), s.MSN, "consecutive")
		if s.Gap {
			gapTime += s.Duration
		}
		if i > 0 {
			prev := snap.Segments[i-1]
			require.Equal(t, prev.Start+prev.Duration, s.Start, "segment %d starts where %d ends", s.MSN, prev.MSN)
		}
	}
	require.Equal(t, 20*time.Second, gapTime, "10 s..30 s")
}
