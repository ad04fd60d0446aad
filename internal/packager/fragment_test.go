package packager

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// marshalReference is mediacommon's serialization of groups as one part.
func marshalReference(t *testing.T, seq uint32, groups []*sampleGroup) []byte {
	t.Helper()
	part := fmp4.Part{SequenceNumber: seq}
	for _, g := range groups {
		pt := &fmp4.PartTrack{ID: g.ts.id, BaseTime: uint64(g.samples[0].dts)}
		for _, s := range g.samples {
			pt.Samples = append(pt.Samples, &fmp4.Sample{
				Duration: uint32(s.dur), PTSOffset: int32(s.cts), IsNonSyncSample: !s.pkt.Key, Payload: s.pkt.Data,
			})
		}
		part.Tracks = append(part.Tracks, pt)
	}
	var buf seekablebuffer.Buffer
	require.NoError(t, part.Marshal(&buf))
	return buf.Bytes()
}

func randomGroup(r *rand.Rand, ts *trackState, video bool) *sampleGroup {
	g := &sampleGroup{ts: ts}
	dts := r.Int64N(1 << 40)
	for i := range 1 + r.IntN(12) {
		s := sample{pkt: &av.Packet{Key: !video || i == 0 && r.IntN(2) == 0}, dts: dts, dur: 1 + r.Int64N(4000)}
		if video && r.IntN(3) == 0 {
			s.cts = r.Int64N(20000) - 5000 // B-frames: negative offsets too (trun v1)
		}
		s.pkt.Data = make([]byte, r.IntN(3000))
		for k := range s.pkt.Data {
			s.pkt.Data[k] = byte(r.Uint32())
		}
		dts += s.dur
		g.samples = append(g.samples, s)
	}
	return g
}

// The muxed part is byte for byte what mediacommon writes (HLS serves
// what it always served), and each track's fragment is byte for byte
// mediacommon's part of that track alone (what DASH used to derive by
// re-parsing), its sample bytes shared with the muxed part.
func TestFragmentMatchesMediacommon(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vts := &trackState{id: TrackVideo}
	ats := &trackState{id: TrackAudio}
	for iter := range 300 {
		var groups []*sampleGroup
		if iter%3 != 2 {
			groups = append(groups, randomGroup(r, vts, true))
		}
		if iter%3 != 1 {
			groups = append(groups, randomGroup(r, ats, false))
		}
		seq := r.Uint32()
		muxed, tracks, err := fragment(seq, groups)
		require.NoError(t, err)
		require.Equal(t, marshalReference(t, seq, groups), muxed, "iteration %d: muxed part", iter)
		for id := range tracks {
			var g *sampleGroup
			for _, gg := range groups {
				if gg.ts.id == id {
					g = gg
				}
			}
			f := tracks[id]
			if g == nil {
				require.Nil(t, f.header, "iteration %d: track %d absent", iter, id)
				continue
			}
			one := append(append([]byte(nil), f.header...), f.payload...)
			require.Equal(t, marshalReference(t, seq, []*sampleGroup{g}), one, "iteration %d: track %d fragment", iter, id)
			require.Equal(t, len(g.samples), f.samples)
			// Shared, not copied: the payload lies inside the muxed part.
			if len(f.payload) > 0 {
				inside := false
				for k := range muxed {
					inside = inside || &muxed[k] == &f.payload[0]
				}
				require.True(t, inside, "iteration %d: track %d payload is a copy, not the part's bytes", iter, id)
			}
			require.Equal(t, len(f.payload), cap(f.payload), "a track's payload must not reach into the next one")
		}
	}
}

// A packager's parts carry both forms: each track's fragment decodes to
// exactly that track's samples of the muxed part.
func TestPartFragmentsAreTheMuxedTracks(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, 5*time.Second)
	snap := p.Snapshot()
	require.NotEmpty(t, snap.Segments)
	in := snap.Segments[0].Init
	for _, id := range []int{TrackVideo, TrackAudio} {
		var one fmp4.Init
		require.NoError(t, one.Unmarshal(bytes.NewReader(in.TrackData(id))))
		require.Len(t, one.Tracks, 1)
		require.Equal(t, id, one.Tracks[0].ID)
	}
	require.Nil(t, in.TrackData(3))
	parts := 0
	for _, seg := range snap.Segments {
		for _, part := range seg.Parts {
			parts++
			var muxed fmp4.Parts
			require.NoError(t, muxed.Unmarshal(part.Data))
			require.Len(t, muxed, 1)
			for _, tr := range muxed[0].Tracks {
				h, d := part.Fragment(tr.ID)
				var one fmp4.Parts
				require.NoError(t, one.Unmarshal(append(append([]byte(nil), h...), d...)))
				require.Len(t, one, 1)
				require.Equal(t, muxed[0].SequenceNumber, one[0].SequenceNumber)
				require.Equal(t, []*fmp4.PartTrack{tr}, one[0].Tracks, "part %d.%d track %d", part.MSN, part.Index, tr.ID)
				require.Equal(t, len(tr.Samples), part.Samples(tr.ID))
				require.Equal(t, len(h)+len(d), part.FragmentSize(tr.ID))
			}
		}
	}
	require.Greater(t, parts, 10)
}

// BenchmarkFragment serializes a 200 ms part of 2.5 Mb/s video and AAC
// audio in both forms; "mediacommon" is the muxed form alone as
// fmp4.Part.Marshal writes it (what the packager did before).
func BenchmarkFragment(b *testing.B) {
	vts := &trackState{id: TrackVideo}
	ats := &trackState{id: TrackAudio}
	v := &sampleGroup{ts: vts}
	a := &sampleGroup{ts: ats}
	for i := range 5 {
		v.samples = append(v.samples, sample{pkt: &av.Packet{Key: i == 0, Data: make([]byte, 12500)}, dts: int64(i) * 3600, dur: 3600})
	}
	for i := range 10 {
		a.samples = append(a.samples, sample{pkt: &av.Packet{Key: true, Data: make([]byte, 200)}, dts: int64(i) * 1024, dur: 1024})
	}
	groups := []*sampleGroup{v, a}
	b.Run("both-forms", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, _, err := fragment(1, groups); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mediacommon", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			part := fmp4.Part{SequenceNumber: 1}
			for _, g := range groups {
				pt := &fmp4.PartTrack{ID: g.ts.id, BaseTime: uint64(g.samples[0].dts)}
				for _, s := range g.samples {
					pt.Samples = append(pt.Samples, &fmp4.Sample{Duration: uint32(s.dur), IsNonSyncSample: !s.pkt.Key, Payload: s.pkt.Data})
				}
				part.Tracks = append(part.Tracks, pt)
			}
			var buf seekablebuffer.Buffer
			if err := part.Marshal(&buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
