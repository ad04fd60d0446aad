package packager

import (
	"fmt"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// trackEnd is where track id's samples in part end, in seconds (0, false:
// none).
func trackEnd(t *testing.T, part *Part, id int, timescale float64) (float64, bool) {
	t.Helper()
	var ps fmp4.Parts
	require.NoError(t, ps.Unmarshal(part.Data), "part %d.%d", part.MSN, part.Index)
	for _, p := range ps {
		for _, tr := range p.Tracks {
			if tr.ID != id || len(tr.Samples) == 0 {
				continue
			}
			end := tr.BaseTime
			for _, s := range tr.Samples {
				end += uint64(s.Duration)
			}
			return float64(end) / timescale, true
		}
	}
	return 0, false
}

// TestPartAudioCoversVideo: every segment's last part has audio at least
// as far as its video. A player's buffered range is the intersection of
// both (MSE), so audio ending a frame short made every segment end up to
// 21 ms before its nominal end in the buffer; at a segment boundary hls.js
// then searched the fully loaded segment for the next media, found nothing
// to load, and stalled until it jumped to the live edge (QoE test,
// 2026-12: two to four stalls of ~1.8 s in 45 s). The newest audio frame
// before the cut has its duration from the codec, so it need not wait for
// its successor to go into the part. (Other parts keep the audio that has
// come: see flushPart on hls.js's 0.2 s buffer padding.)
func TestPartAudioCoversVideo(t *testing.T) {
	for _, fps := range []float64{30, 25, 29.97} {
		t.Run(fmt.Sprintf("%gfps", fps), func(t *testing.T) {
			video, _ := testTracks(t)
			audio, err := av.NewTrack(av.CodecAAC, []byte{0x11, 0x90}) // AAC-LC 48 kHz stereo
			require.NoError(t, err)
			p := New(Options{})
			require.NoError(t, p.SetTracks(video, audio))
			msFeed(t, p, video, audio, fps, int(2*fps+0.5), 12*time.Second)
			snap := p.Snapshot()
			parts := 0
			for _, s := range snap.Segments {
				if !s.Complete {
					continue
				}
				for _, part := range s.Parts[len(s.Parts)-1:] {
					vEnd, ok := trackEnd(t, part, TrackVideo, 90000)
					require.True(t, ok, "part %d.%d has video", part.MSN, part.Index)
					aEnd, ok := trackEnd(t, part, TrackAudio, 48000)
					require.True(t, ok, "part %d.%d has audio", part.MSN, part.Index)
					// Within a millisecond: RTMP interleaves by millisecond
					// timestamps, so a frame starting less than 1 ms before
					// the cut may come after the video frame that cuts.
					require.GreaterOrEqual(t, aEnd, vEnd-0.001,
						"part %d.%d: audio ends %.1f ms before video", part.MSN, part.Index, (vEnd-aEnd)*1000)
					// and by less than one audio frame past it
					require.Less(t, aEnd-vEnd, 1024.0/48000, "part %d.%d", part.MSN, part.Index)
					parts++
				}
			}
			require.Greater(t, parts, 4)
			// and no segment's audio starts before its video (hls.js
			// would position parts by the audio, see
			// TestEpochAudioStartsWithVideo).
			for _, s := range snap.Segments {
				vStart, ok := trackStart(t, s.Parts[0], TrackVideo, 90000)
				require.True(t, ok)
				if aStart, ok := trackStart(t, s.Parts[0], TrackAudio, 48000); ok {
					require.GreaterOrEqual(t, aStart, vStart-0.001, "segment %d: audio starts %.1f ms before video", s.MSN, (vStart-aStart)*1000)
				}
			}
			// The audio stays one unbroken run of 1024-sample frames.
			starts, durs := audioSamples(t, snap)
			for i := 1; i < len(starts); i++ {
				require.Equal(t, starts[i-1]+durs[i-1], starts[i], "audio sample %d", i)
			}
		})
	}
}

// TestEpochEndsWithItsVideo: the segment closed at a discontinuity (a
// republish) or the end carries no audio past its video. The next epoch's
// first video frame is played at that video end, so audio beyond it made
// the new epoch's audio decode times go backwards, on which MSE drops
// video up to the next keyframe: hls.js showed the old publisher's last
// frame for a whole GOP after each republish while currentTime advanced.
func TestEpochEndsWithItsVideo(t *testing.T) {
	for _, until := range []time.Duration{5 * time.Second, 5*time.Second + 10*time.Millisecond, 5*time.Second + 45*time.Millisecond} {
		t.Run(until.String(), func(t *testing.T) {
			video, _ := testTracks(t)
			audio, err := av.NewTrack(av.CodecAAC, []byte{0x11, 0x90}) // AAC-LC 48 kHz stereo
			require.NoError(t, err)
			p := New(Options{})
			require.NoError(t, p.SetTracks(video, audio))
			msFeed(t, p, video, audio, 30, 60, until)
			// Audio runs ahead of the video at the cut, as ffmpeg
			// interleaves it.
			at := until + 30*time.Millisecond
			require.NoError(t, p.WritePacket(&av.Packet{Track: audio, DTS: at, PTS: at, Key: true, Data: []byte{0x21, 0x10, 0x04}}))
			// The new publisher (republish): a discontinuity.
			vt := until + 100*time.Millisecond
			require.NoError(t, p.WritePacket(&av.Packet{Track: video, DTS: vt, PTS: vt, Key: true, Data: frame(true), Discontinuity: true}))
			snap := p.Snapshot()
			var last *Segment
			for i := range snap.Segments {
				if snap.Segments[i].Complete {
					last = &snap.Segments[i]
				}
			}
			require.NotNil(t, last)
			part := last.Parts[len(last.Parts)-1]
			vEnd, ok := trackEnd(t, part, TrackVideo, 90000)
			require.True(t, ok)
			aEnd, ok := trackEnd(t, part, TrackAudio, 48000)
			if !ok { // the last part may hold a frame of video only
				aEnd, ok = trackEnd(t, last.Parts[len(last.Parts)-2], TrackAudio, 48000)
				require.True(t, ok)
			}
			require.LessOrEqual(t, aEnd, vEnd+1e-9, "segment %d: audio ends %.1f ms past its video", last.MSN, (aEnd-vEnd)*1000)
			require.Greater(t, aEnd, vEnd-1024.0/48000, "segment %d: audio ends %.1f ms before its video", last.MSN, (vEnd-aEnd)*1000)
		})
	}
}

// trackStart is where track id's samples in part start, in seconds.
func trackStart(t *testing.T, part *Part, id int, timescale float64) (float64, bool) {
	t.Helper()
	var ps fmp4.Parts
	require.NoError(t, ps.Unmarshal(part.Data), "part %d.%d", part.MSN, part.Index)
	for _, p := range ps {
		for _, tr := range p.Tracks {
			if tr.ID == id && len(tr.Samples) > 0 {
				return float64(tr.BaseTime) / timescale, true
			}
		}
	}
	return 0, false
}

// TestEpochAudioStartsWithVideo: an epoch's first segment (the stream's
// first, the first after a republish) has no audio before its first
// keyframe, even audio that arrives after it. hls.js takes a new
// timeline's offset from whichever track starts first and then positions
// parts by that track; positioned by audio, which ends a frame past the
// video at each segment's end, every segment ended short of its position
// in the buffer and hls.js stalled at a segment boundary (QoE run of a
// young stream, 2026-12).
func TestEpochAudioStartsWithVideo(t *testing.T) {
	video, _ := testTracks(t)
	audio, err := av.NewTrack(av.CodecAAC, []byte{0x11, 0x90}) // AAC-LC 48 kHz stereo
	require.NoError(t, err)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	for epoch, start := range []time.Duration{40 * time.Millisecond, 3 * time.Second} {
		disc := epoch > 0
		// The keyframe first, then audio from 30 ms before it.
		require.NoError(t, p.WritePacket(&av.Packet{Track: video, DTS: start, PTS: start, Key: true, Data: frame(true), Discontinuity: disc}))
		vn, an := 1, 0
		for vn < 45 {
			vt := start + time.Duration(vn)*100*time.Millisecond/3
			at := start - 30*time.Millisecond + (time.Duration(an) * 1024 * time.Second / 48000).Round(time.Millisecond)
			if at < vt {
				require.NoError(t, p.WritePacket(&av.Packet{Track: audio, DTS: at, PTS: at, Key: true, Data: []byte{0x21, 0x10, 0x04}}))
				an++
				continue
			}
			require.NoError(t, p.WritePacket(&av.Packet{Track: video, DTS: vt, PTS: vt, Data: frame(false)}))
			vn++
		}
		snap := p.Snapshot()
		var first *Segment
		for i := range snap.Segments {
			if s := &snap.Segments[i]; s.Start == start {
				first = s
			}
		}
		require.NotNil(t, first, "epoch %d segment", epoch)
		require.NotEmpty(t, first.Parts)
		vStart, ok := trackStart(t, first.Parts[0], TrackVideo, 90000)
		require.True(t, ok)
		aStart, ok := trackStart(t, first.Parts[0], TrackAudio, 48000)
		require.True(t, ok, "epoch %d: part 0 has audio", epoch)
		require.GreaterOrEqual(t, aStart, vStart, "epoch %d: audio starts %.1f ms before the video", epoch, (vStart-aStart)*1000)
		require.Less(t, aStart-vStart, 1024.0/48000, "epoch %d: at most a frame of audio dropped", epoch)
	}
}
