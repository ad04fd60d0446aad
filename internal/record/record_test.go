package record

import (
	"bytes"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// avcC of a 320x240 x264 stream (constrained baseline).
const testAVCC = "0142c00dffe100166742c00dda0507ec0440000003004000000c83c50aa801000468ce0fc8"

func testTracks(t testing.TB) (video, audio *av.Track) {
	rec, _ := hex.DecodeString(testAVCC)
	video, err := av.NewTrack(av.CodecH264, rec)
	require.NoError(t, err)
	audio, err = av.NewTrack(av.CodecAAC, []byte{0x12, 0x10}) // AAC-LC 44.1 kHz stereo
	require.NoError(t, err)
	return video, audio
}

var epoch = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// feed writes n video frames at 25 fps (a keyframe every gop frames),
// each followed by an audio frame, from media time start.
// Arrival times follow the media time from epoch, as if in real time.
func feed(t testing.TB, p *hub.Publisher, video, audio *av.Track, start time.Duration, n, gop int) {
	for i := 0; i < n; i++ {
		ts := start + time.Duration(i)*40*time.Millisecond
		at := epoch.Add(ts)
		require.NoError(t, p.WritePacket(&av.Packet{Track: video, DTS: ts, PTS: ts, Key: i%gop == 0, Data: make([]byte, 800), Arrival: at}))
		require.NoError(t, p.WritePacket(&av.Packet{Track: audio, DTS: ts, PTS: ts, Key: true, Data: make([]byte, 90), Arrival: at}))
	}
}

// rig is a hub whose streams a Manager records.
type rig struct {
	h *hub.Hub
	m *Manager
}

func newRig(t *testing.T, opts Options) *rig {
	r := &rig{}
	var mu sync.Mutex
	r.h = hub.New(hub.Options{Logger: quiet, MaxLag: time.Hour, OnStreamStart: func(path string) {
		mu.Lock()
		m := r.m
		mu.Unlock()
		m.StreamStarted(path)
	}})
	if opts.Enabled == nil {
		opts.Enabled = func(string) bool { return true }
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	mu.Lock()
	r.m = New(r.h, opts)
	mu.Unlock()
	t.Cleanup(func() { r.h.Close(); r.m.Close(time.Second) })
	return r
}

// publish starts a publisher at path and waits until the recorder reads
// the stream.
func (r *rig) publish(t *testing.T, path string) *hub.Publisher {
	p, err := r.h.Publish(path, hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	require.Eventually(t, func() bool {
		s := r.h.Stream(path)
		return s != nil && len(s.Clients()) > 0
	}, 5*time.Second, 5*time.Millisecond, "the recorder subscribes")
	return p
}

func TestRecordRotatesAndIndexes(t *testing.T) {
	dir := t.TempDir()
	var segs []Segment
	var mu sync.Mutex
	r := newRig(t, Options{Dir: dir, PartDuration: 500 * time.Millisecond, SegmentDuration: 2 * time.Second,
		OnSegment: func(s Segment) { mu.Lock(); segs = append(segs, s); mu.Unlock() }})
	video, audio := testTracks(t)
	p := r.publish(t, "live/a")
	feed(t, p, video, audio, 0, 150, 25) // 6 s, a keyframe every second
	p.Kick("test over")
	r.m.Close(5 * time.Second)

	recs, err := r.m.Catalog.List("live/a")
	require.NoError(t, err)
	require.Len(t, recs, 3, "6 s in 2 s files: %+v", recs)
	total := 0.0
	for _, rec := range recs {
		require.Equal(t, []string{"h264", "aac"}, rec.Codecs)
		require.InDelta(t, 2.0, rec.Duration, 0.05, "file %s", rec.File)
		total += rec.Duration
		ix, _, err := r.m.Catalog.Index(filepath.Join(dir, "live", "a", rec.File))
		require.NoError(t, err)
		require.True(t, ix.Fragments[0].Key, "a file starts at a keyframe")
		keys := 0
		for _, f := range ix.Fragments {
			require.LessOrEqual(t, f.Duration, 600*time.Millisecond, "fragment of part_duration (+ a frame of each track)")
			if f.Key {
				keys++
			}
		}
		require.Equal(t, 2, keys, "every keyframe starts a fragment")
	}
	require.InDelta(t, 6.0, total, 0.05)
	mu.Lock()
	require.Len(t, segs, 3, "on_record_segment per closed file")
	mu.Unlock()

	var clip bytes.Buffer
	from := recs[0].Start.Add(1500 * time.Millisecond)
	require.NoError(t, r.m.Catalog.WriteClip(&clip, "live/a", from, 3*time.Second))
	var ix FileIndex
	require.NoError(t, ix.update(bytes.NewReader(clip.Bytes()), int64(clip.Len())))
	require.InDelta(t, 3.0, ix.Duration().Seconds(), 0.3, "the clip starts at the keyframe at 1 s and lasts 3 s")
	require.InDelta(t, 0, ix.Zero(), 0.05, "decode times rebased to 0")

	var vod bytes.Buffer
	require.NoError(t, r.m.Catalog.WriteVOD(&vod, "live/a", time.Time{}, from.Add(time.Hour), func(f string) string { return f }))
	require.Contains(t, vod.String(), "#EXT-X-PLAYLIST-TYPE:VOD")
	require.Equal(t, 3, bytes.Count(vod.Bytes(), []byte("#EXT-X-MAP:")), vod.String())
	require.Equal(t, 6, bytes.Count(vod.Bytes(), []byte("#EXTINF:1.0")), "one segment per keyframe: %s", vod.String())
	require.NotContains(t, vod.String(), "DISCONTINUITY", "files of one stream continue one another")
}

// failingFile fails every write while full is set, like a full disk.
type failingFile struct {
	*os.File
	full *atomic.Bool
}

func (f failingFile) Write(b []byte) (int, error) {
	if f.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.Write(b)
}

func TestRecordWriteErrorStopsAndResumes(t *testing.T) {
	dir := t.TempDir()
	var full atomic.Bool
	r := newRig(t, Options{Dir: dir, RetryAfter: 50 * time.Millisecond, OpenFile: func(name string) (File, error) {
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		return failingFile{f, &full}, nil
	}})
	video, audio := testTracks(t)
	p := r.publish(t, "live/e")
	feed(t, p, video, audio, 0, 50, 25)
	waitFor := func(cond func() bool, what string) {
		require.Eventually(t, cond, 5*time.Second, 5*time.Millisecond, what)
	}
	waitFor(func() bool { recs, _ := r.m.Catalog.List("live/e"); return len(recs) == 1 && recs[0].Duration > 0.9 }, "first file written")
	full.Store(true)
	feed(t, p, video, audio, 2*time.Second, 50, 25)
	waitFor(func() bool { return r.m.Errors() == 1 }, "the write error is counted")
	time.Sleep(100 * time.Millisecond) // past RetryAfter
	full.Store(false)
	// The publisher was never blocked; the recording resumes at the next
	// keyframe in a new file.
	feed(t, p, video, audio, 4*time.Second, 50, 25)
	waitFor(func() bool {
		recs, _ := r.m.Catalog.List("live/e")
		return len(recs) == 2 && recs[1].Duration > 0.9
	}, "a new file after the disk has room again")
	require.EqualValues(t, 1, r.m.Errors(), "one error, one stop")
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	m := New(nil, Options{Dir: dir, Logger: quiet, Now: func() time.Time { return now },
		DeleteAfter: 24 * time.Hour, MaxBytes: func(string) int64 { return 250 }})
	defer m.Close(0)
	d := filepath.Join(dir, "live", "a")
	require.NoError(t, os.MkdirAll(d, 0o755))
	mk := func(age time.Duration, size int) string {
		name := filepath.Join(d, now.Add(-age).Format(fileTimeLayout)+".mp4")
		require.NoError(t, os.WriteFile(name, make([]byte, size), 0o644))
		require.NoError(t, os.Chtimes(name, now.Add(-age), now.Add(-age)))
		return name
	}
	old := mk(48*time.Hour, 10)
	a, b, c := mk(3*time.Hour, 100), mk(2*time.Hour, 100), mk(time.Hour, 100)
	other := filepath.Join(d, "notes.txt")
	require.NoError(t, os.WriteFile(other, []byte("x"), 0o644))
	m.setOpen(a, true) // being written: kept though over the cap

	require.Equal(t, 2, m.Sweep(), "the expired file and the oldest closed one over the cap")
	for name, want := range map[string]bool{old: false, a: true, b: false, c: true, other: true} {
		_, err := os.Stat(name)
		require.Equal(t, want, err == nil, "%s kept", filepath.Base(name))
	}
}

func TestFileNamesAreSafe(t *testing.T) {
	c := NewCatalog("/rec")
	for _, bad := range []string{"../x.mp4", "2026-12-02T10-00-00.000Z.mp4/..", "a.mp4", "2026-12-02T10-00-00.000Z.mp4\x00"} {
		_, err := c.FilePath("live/a", bad)
		require.Error(t, err, "%q", bad)
	}
	_, err := c.FilePath("../etc", "2026-12-02T10-00-00.000Z.mp4")
	require.Error(t, err)
	p, err := c.FilePath("live/a", "2026-12-02T10-00-00.000Z.mp4")
	require.NoError(t, err)
	require.Equal(t, "/rec/live/a/2026-12-02T10-00-00.000Z.mp4", p)
}
