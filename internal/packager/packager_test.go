package packager

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// A small valid H.264 SPS/PPS (Constrained Baseline, from mediacommon's
// tests) and an AAC-LC 44.1 kHz stereo AudioSpecificConfig.
var (
	testSPS = []byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0x3b, 0x50, 0xb0, 0x4b, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3d, 0x08}
	testPPS = []byte{0x68, 0xee, 0x3c, 0x80}
	testASC = []byte{0x12, 0x10}
)

func avcC(sps, pps []byte) []byte {
	b := []byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	return append(b, pps...)
}

func testTracks(t *testing.T) (video, audio *av.Track) {
	t.Helper()
	video, err := av.NewTrack(av.CodecH264, avcC(testSPS, testPPS))
	require.NoError(t, err)
	audio, err = av.NewTrack(av.CodecAAC, testASC)
	require.NoError(t, err)
	return video, audio
}

// frame returns an AVCC access unit: one IDR (type 5) or non-IDR (1) slice.
func frame(key bool) []byte {
	typ := byte(0x41)
	if key {
		typ = 0x65
	}
	return []byte{0, 0, 0, 5, typ, 0x88, 0x84, 0x00, 0x33}
}

// feed writes dur of 25 fps video (keyframe every gop frames) and AAC
// audio interleaved by DTS, starting at media time start.
type feeder struct {
	video, audio *av.Track
	vn, an       int // frames written
	start        time.Duration
	gop          int
	noAudio      bool
	disc         bool
	// arrival, if set, gives each packet its arrival time.
	arrival func(pkt *av.Packet) time.Time
}

func (f *feeder) vts(n int) time.Duration { return f.start + time.Duration(n)*40*time.Millisecond }
func (f *feeder) ats(n int) time.Duration {
	return f.start + time.Duration(n)*1024*time.Second/44100
}

func (f *feeder) feed(t *testing.T, p *Packager, until time.Duration) {
	t.Helper()
	for {
		vt, at := f.vts(f.vn), f.ats(f.an)
		if vt >= until && (f.noAudio || at >= until) {
			return
		}
		var pkt *av.Packet
		if f.noAudio || vt <= at {
			pkt = &av.Packet{Track: f.video, DTS: vt, PTS: vt, Key: f.vn%f.gop == 0, Data: frame(f.vn%f.gop == 0)}
			f.vn++
		} else {
			pkt = &av.Packet{Track: f.audio, DTS: at, PTS: at, Key: true, Data: []byte{0x21, 0x10, 0x04}}
			f.an++
		}
		if f.disc {
			pkt.Discontinuity, f.disc = true, false
		}
		if f.arrival != nil {
			pkt.Arrival = f.arrival(pkt)
		}
		require.NoError(t, p.WritePacket(pkt))
	}
}

// trackTimes checks the parts of all segments decode (mediacommon) and
// that each track's decode time runs on without gap or overlap.
func checkContinuity(t *testing.T, segs []Segment) {
	t.Helper()
	next := map[int]uint64{}
	for _, s := range segs {
		for _, part := range s.Parts {
			var ps fmp4.Parts
			require.NoError(t, ps.Unmarshal(part.Data), "part %d.%d", part.MSN, part.Index)
			require.Len(t, ps, 1)
			for _, tr := range ps[0].Tracks {
				if want, ok := next[tr.ID]; ok && !s.Discontinuity {
					require.Equal(t, want, tr.BaseTime, "track %d tfdt at part %d.%d", tr.ID, part.MSN, part.Index)
				}
				end := tr.BaseTime
				for _, smp := range tr.Samples {
					end += uint64(smp.Duration)
				}
				next[tr.ID] = end
			}
		}
	}
}

func TestSegmentsCutAtKeyframesPartsWithinTarget(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 9*time.Second)

	snap := p.Snapshot()
	require.GreaterOrEqual(t, len(snap.Segments), 4)
	require.Equal(t, 2*time.Second, snap.TargetDuration)
	for i, s := range snap.Segments {
		require.Equal(t, uint64(i), s.MSN)
		require.NotEmpty(t, s.Parts)
		require.True(t, s.Parts[0].Independent, "segment %d must start with a keyframe", s.MSN)
		var sum time.Duration
		for j, part := range s.Parts {
			require.Equal(t, j, part.Index)
			require.LessOrEqual(t, part.Duration, snap.PartTarget, "part %d.%d", s.MSN, j)
			require.Equal(t, 200*time.Millisecond, part.Duration, "25 fps fills 200 ms parts exactly")
			sum += part.Duration
		}
		require.Equal(t, sum, s.Duration)
		if s.Complete {
			require.Equal(t, 2*time.Second, s.Duration)
			require.Equal(t, time.Duration(s.MSN)*2*time.Second, s.Start)
		}
	}
	require.False(t, snap.Segments[len(snap.Segments)-1].Complete, "the newest segment is open")
	checkContinuity(t, snap.Segments)

	p.End(nil)
	snap = p.Snapshot()
	require.True(t, snap.Ended)
	require.True(t, snap.Segments[len(snap.Segments)-1].Complete)
}

func TestLongGOPMakesLongerSegmentsAndTarget(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 100} // 4 s
	f.feed(t, p, 12*time.Second+40*time.Millisecond)
	snap := p.Snapshot()
	require.Equal(t, 4*time.Second, snap.TargetDuration)
	for _, s := range snap.Segments {
		if s.Complete {
			require.Equal(t, 4*time.Second, s.Duration)
		}
	}
}

func TestShortGOPPartsBreakAtEveryKeyframe(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 7} // 280 ms
	f.feed(t, p, 5*time.Second)
	snap := p.Snapshot()
	for _, s := range snap.Segments {
		var at time.Duration
		for _, part := range s.Parts {
			// A keyframe every 280 ms: a part starts at each one.
			frameIdx := int((s.Start + at) / (40 * time.Millisecond))
			require.Equal(t, frameIdx%7 == 0, part.Independent, "part %d.%d at frame %d", s.MSN, part.Index, frameIdx)
			require.LessOrEqual(t, part.Duration, 200*time.Millisecond)
			at += part.Duration
		}
		if s.Complete {
			require.GreaterOrEqual(t, s.Duration, 2*time.Second)
			require.Less(t, s.Duration, 2*time.Second+280*time.Millisecond)
		}
	}
	checkContinuity(t, snap.Segments)
}

func TestDiscontinuityStartsNewSegment(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 3*time.Second)
	// Reconnect: the hub continues the timeline and flags the first packet.
	f.vn, f.an = 0, 0
	f.start = 3*time.Second + 40*time.Millisecond
	f.disc = true
	f.feed(t, p, 8*time.Second)
	snap := p.Snapshot()
	var disc []uint64
	for _, s := range snap.Segments {
		if s.Discontinuity {
			disc = append(disc, s.MSN)
			require.Equal(t, f.start, s.Start)
		}
	}
	require.Equal(t, []uint64{2}, disc, "segments 0 (2 s) and 1 (1 s, cut by the reconnect), then 2")
	require.Equal(t, time.Second, snap.Segments[1].Duration)
	require.Equal(t, 0, snap.Segments[2].Init.ID, "same tracks: same init section")

	// A new codec configuration: new init section, discontinuity.
	sps2 := bytes.Clone(testSPS)
	sps2[3] = 0x1f
	v2, err := av.NewTrack(av.CodecH264, avcC(sps2, testPPS))
	require.NoError(t, err)
	f.video = v2
	f.feed(t, p, 10*time.Second)
	snap = p.Snapshot()
	last := snap.Segments[len(snap.Segments)-1]
	require.True(t, last.Discontinuity)
	require.Equal(t, 1, last.Init.ID)
	require.NotNil(t, p.Init(1))
}

func TestWindowSlidesAndCountsDiscontinuities(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{Window: 3, Retain: 1})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 3*time.Second)
	f.vn, f.an, f.start, f.disc = 0, 0, 3*time.Second+40*time.Millisecond, true
	f.feed(t, p, 20*time.Second)
	snap := p.Snapshot()
	require.Len(t, snap.Segments, 4, "3 listed complete segments + the open one")
	require.Equal(t, uint64(1), snap.DiscontinuitySequence)
	first := snap.Segments[0].MSN
	require.NotNil(t, p.Part(first-1, 0), "retained beyond the listed window")
	require.Nil(t, p.Part(first-2, 0), "dropped")
}

func TestAudioOnly(t *testing.T) {
	_, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(nil, audio))
	for n := 0; n < 400; n++ {
		ts := time.Duration(n) * 1024 * time.Second / 44100
		require.NoError(t, p.WritePacket(&av.Packet{Track: audio, DTS: ts, PTS: ts, Key: true, Data: []byte{1, 2, 3}}))
	}
	snap := p.Snapshot()
	require.GreaterOrEqual(t, len(snap.Segments), 3)
	for _, s := range snap.Segments {
		for _, part := range s.Parts {
			require.True(t, part.Independent)
			require.LessOrEqual(t, part.Duration, 200*time.Millisecond)
		}
		if s.Complete {
			require.GreaterOrEqual(t, s.Duration, 2*time.Second)
			require.Less(t, s.Duration, 2*time.Second+25*time.Millisecond)
		}
	}
	checkContinuity(t, snap.Segments)
}

func TestMPEGTSSegments(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{Format: FormatMPEGTS})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 7*time.Second)
	snap := p.Snapshot()
	n := 0
	for _, s := range snap.Segments {
		require.Empty(t, s.Parts)
		if !s.Complete {
			continue
		}
		n++
		require.Equal(t, 2*time.Second, s.Duration)
		require.NotEmpty(t, s.TS)
		require.Zero(t, len(s.TS)%188)
		for i := 0; i < len(s.TS); i += 188 {
			require.Equal(t, byte(0x47), s.TS[i])
		}
		// PAT (PID 0) first, so each segment decodes on its own.
		require.Equal(t, uint16(0), binary.BigEndian.Uint16(s.TS[1:3])&0x1fff)
	}
	require.Equal(t, 3, n)
}

func TestMPEGTSRefusesOpusAndAV1(t *testing.T) {
	opus, err := av.NewTrack(av.CodecOpus, nil)
	require.NoError(t, err)
	p := New(Options{Format: FormatMPEGTS})
	err = p.SetTracks(nil, opus)
	require.ErrorIs(t, err, ErrUnsupportedCodec)
	require.Contains(t, err.Error(), "MPEG-TS cannot carry opus audio")
	require.NoError(t, New(Options{}).SetTracks(nil, opus), "fMP4 carries Opus")
}

func TestWaitPartBlocksUntilPublished(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, time.Second)
	snap := p.Snapshot()
	last := snap.Segments[len(snap.Segments)-1]
	next := len(last.Parts)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	require.False(t, p.WaitPart(ctx, last.MSN, next), "not yet published")
	cancel()

	done := make(chan bool)
	go func() { done <- p.WaitPart(context.Background(), last.MSN, next) }()
	select {
	case <-done:
		t.Fatal("WaitPart returned before the part exists")
	case <-time.After(50 * time.Millisecond):
	}
	f.feed(t, p, 1300*time.Millisecond)
	require.True(t, <-done)
	require.NotNil(t, p.Part(last.MSN, next))

	// The end of the stream releases waiters.
	go func() { done <- p.WaitPart(context.Background(), last.MSN+5, 0) }()
	p.End(nil)
	require.False(t, <-done)
}

func TestTicksNoOverflow(t *testing.T) {
	d := 100 * time.Hour
	require.Equal(t, int64(100*3600*90000), ticks(d, 90000))
	require.Equal(t, d, duration(ticks(d, 90000), 90000))
	require.Equal(t, int64(1024), ticks(1024*time.Second/44100+time.Nanosecond, 44100))
}

// Between two changes of the window every caller shares one snapshot, and
// what is rendered from it is built once per key; a change makes a new one.
func TestSnapshotSharedUntilChangeAndMemo(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 3*time.Second)

	a, b := p.Snapshot(), p.Snapshot()
	require.Same(t, a, b)
	builds := 0
	build := func() []byte { builds++; return []byte("x") }
	a.Memo("k", build)
	b.Memo("k", build)
	require.Equal(t, 1, builds)
	b.Memo("other", build)
	require.Equal(t, 2, builds)

	p.End(nil)
	c := p.Snapshot()
	require.NotSame(t, a, c, "a change makes a new snapshot")
	require.True(t, c.Ended)
	require.False(t, a.Ended, "an earlier snapshot never changes")
}

// A segment's last part is published together with the segment's end: no
// state of the window shows a still-open segment holding all its parts,
// which would make playlists hint a part after it that never comes.
func TestLastPartPublishedWithSegmentEnd(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	most, states := 0, 0
	p.win.observe = func(w *window) { // called with w.mu held, on every change
		states++
		if s := w.open(); s != nil {
			most = max(most, len(s.Parts))
		}
	}
	f := &feeder{video: video, audio: audio, gop: 50} // 2 s segments of ten 200 ms parts
	f.feed(t, p, 12*time.Second)
	require.Greater(t, states, 50)
	require.Equal(t, 9, most, "an open segment showed its final (10th) part")
	require.GreaterOrEqual(t, len(p.Snapshot().Segments), 5)
}
