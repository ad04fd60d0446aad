package packager

import (
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// audioSamples parses every part of snap's segments (mediacommon) and
// returns the audio track's (ID 2) samples as (tfdt-derived start,
// duration) pairs in order.
func audioSamples(t *testing.T, snap *Snapshot) (starts, durs []uint64) {
	t.Helper()
	for _, s := range snap.Segments {
		for _, part := range s.Parts {
			var ps fmp4.Parts
			require.NoError(t, ps.Unmarshal(part.Data), "part %d.%d", part.MSN, part.Index)
			for _, p := range ps {
				for _, tr := range p.Tracks {
					if tr.ID != 2 {
						continue
					}
					at := tr.BaseTime
					for _, smp := range tr.Samples {
						starts = append(starts, at)
						durs = append(durs, uint64(smp.Duration))
						at += uint64(smp.Duration)
					}
				}
			}
		}
	}
	return starts, durs
}

// TestAACSampleDurationsFromCodec: AAC at 48 kHz with millisecond
// timestamps (21/22 ms apart, as RTMP sends them) gets 1024-tick samples
// on an exact running count (old main: 1008/1056 ticks); a real gap in
// the timestamps stays a gap.
func TestAACSampleDurationsFromCodec(t *testing.T) {
	video, _ := testTracks(t)
	audio, err := av.NewTrack(av.CodecAAC, []byte{0x11, 0x90}) // AAC-LC 48 kHz stereo
	require.NoError(t, err)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	gapAt, gap := 200, 500*time.Millisecond // audio frame index, extra silence
	ats := func(n int) time.Duration {
		d := (time.Duration(n) * 1024 * time.Second / 48000).Round(time.Millisecond)
		if n >= gapAt {
			d += gap
		}
		return d
	}
	vn, an := 0, 0
	for vn < 300 {
		vt := time.Duration(vn) * 40 * time.Millisecond
		if at := ats(an); at < vt {
			require.NoError(t, p.WritePacket(&av.Packet{Track: audio, DTS: at, PTS: at, Key: true, Data: []byte{0x21, 0x10, 0x04}}))
			an++
			continue
		}
		key := vn%50 == 0
		require.NoError(t, p.WritePacket(&av.Packet{Track: video, DTS: vt, PTS: vt, Key: key, Data: frame(key)}))
		vn++
	}
	starts, durs := audioSamples(t, p.Snapshot())
	require.Greater(t, len(durs), 250)
	gaps := 0
	for i, d := range durs[:len(durs)-1] {
		if i < gapAt {
			require.Equal(t, uint64(i)*1024, starts[i], "sample %d off the running sample count", i)
		}
		if i == gapAt {
			require.Equal(t, uint64(ticks(ats(gapAt), 48000)), starts[i], "after a real gap, the frame's own timestamp")
		}
		if d != 1024 {
			gaps++
			// The frame before the gap lasts until the next one starts.
			require.Equal(t, gapAt-1, i, "sample %d lasts %d ticks; durations %v", i, d, durs[:20])
			continue
		}
	}
	require.Equal(t, 1, gaps, "exactly the one real gap")
}

// TestOpusSampleDurationsFromTOC: Opus durations come from each packet's
// TOC (RFC 6716 §3.1), not from jittered arrival timestamps.
func TestOpusSampleDurationsFromTOC(t *testing.T) {
	opus, err := av.NewTrack(av.CodecOpus, nil)
	require.NoError(t, err)
	p := New(Options{})
	require.NoError(t, p.SetTracks(nil, opus))
	jitter := []time.Duration{0, 2, -1, 3, 1, -2}
	for n := 0; n < 300; n++ {
		ts := time.Duration(n)*20*time.Millisecond + jitter[n%len(jitter)]*time.Millisecond
		// TOC 0xfc: CELT-only fullband 20 ms (config 31), code 0 (one frame).
		require.NoError(t, p.WritePacket(&av.Packet{Track: opus, DTS: ts, PTS: ts, Key: true, Data: []byte{0xfc, 0x01, 0x02}}))
	}
	starts, durs := audioSamples(t, p.Snapshot())
	require.Greater(t, len(durs), 250)
	for i, d := range durs {
		require.Equal(t, uint64(960), d, "sample %d", i)
		require.Equal(t, uint64(i)*960, starts[i], "sample %d", i)
	}
}

func TestOpusPacketSamples(t *testing.T) {
	for _, tc := range []struct {
		pkt  []byte
		want int64
	}{
		{[]byte{0xfc}, 960},       // CELT 20 ms, 1 frame
		{[]byte{0xfd}, 1920},      // CELT 20 ms, 2 frames (code 1)
		{[]byte{0x08}, 960},       // SILK NB 20 ms (config 1)
		{[]byte{0x18}, 2880},      // SILK NB 60 ms (config 3)
		{[]byte{0x60}, 480},       // Hybrid SWB 10 ms (config 12)
		{[]byte{0x83, 0x03}, 360}, // CELT 2.5 ms (config 16), code 3, 3 frames
		{[]byte{0x1b, 0x03}, 0},   // SILK 60 ms × 3 = 180 ms > 120 ms
		{[]byte{0x83}, 0},         // code 3 without the frame count byte
		{nil, 0},
	} {
		require.Equal(t, tc.want, opusPacketSamples(tc.pkt), "% x", tc.pkt)
	}
	require.Equal(t, int64(960), aacFrameSamples([]byte{0x11, 0x94}), "frameLengthFlag set")
	require.Equal(t, int64(1024), aacFrameSamples([]byte{0x11, 0x90}))
}

// FuzzOpusPacketSamples: any packet gives a duration within RFC 6716's
// bounds (0 when it cannot say) and never panics.
func FuzzOpusPacketSamples(f *testing.F) {
	f.Add([]byte{0xfc})
	f.Add([]byte{0x83, 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		if n := opusPacketSamples(b); n < 0 || n > 5760 {
			t.Fatalf("opusPacketSamples(% x) = %d", b, n)
		}
	})
}
