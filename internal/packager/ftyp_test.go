package packager

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"
)

// ftypBrands returns the major and compatible brands of the ftyp box that
// begins an init section.
func ftypBrands(t *testing.T, init []byte) (major string, compat []string) {
	t.Helper()
	require.GreaterOrEqual(t, len(init), 16)
	require.Equal(t, "ftyp", string(init[4:8]))
	size := int(binary.BigEndian.Uint32(init))
	require.LessOrEqual(t, size, len(init))
	for i := 16; i+4 <= size; i += 4 {
		compat = append(compat, string(init[i:i+4]))
	}
	return string(init[8:12]), compat
}

// TestInitBrands: the muxed (HLS) init section declares ISO BMFF 'iso6'
// fragments, and each per-track (DASH) one a CMAF track ('cmfc') in the
// DASH segment format ('dash'); old main wrote mediacommon's mp42/mp41/
// isom/hlsf for both. Both still parse.
func TestInitBrands(t *testing.T) {
	video, audio := testTracks(t)
	p := New(Options{})
	require.NoError(t, p.SetTracks(video, audio))
	f := &feeder{video: video, audio: audio, gop: 50}
	f.feed(t, p, time.Second)
	in := p.Init(0)
	require.NotNil(t, in)

	major, compat := ftypBrands(t, in.Data)
	require.Equal(t, "iso6", major)
	require.Contains(t, compat, "iso6")
	require.NotContains(t, compat, "cmfc", "a muxed audio+video file is not a CMAF track file")
	var mux fmp4.Init
	require.NoError(t, mux.Unmarshal(bytes.NewReader(in.Data)))
	require.Len(t, mux.Tracks, 2)

	for id := 1; id <= 2; id++ {
		major, compat := ftypBrands(t, in.TrackData(id))
		require.Equal(t, "cmfc", major, "track %d", id)
		for _, b := range []string{"cmfc", "iso6", "dash"} {
			require.Contains(t, compat, b, "track %d", id)
		}
		var one fmp4.Init
		require.NoError(t, one.Unmarshal(bytes.NewReader(in.TrackData(id))))
		require.Len(t, one.Tracks, 1)
	}
}

// mfhdSeqs returns the mfhd sequence number of every part of snap.
func mfhdSeqs(t *testing.T, snap *Snapshot) []uint32 {
	t.Helper()
	var seqs []uint32
	for _, s := range snap.Segments {
		for _, part := range s.Parts {
			var ps fmp4.Parts
			require.NoError(t, ps.Unmarshal(part.Data))
			for _, p := range ps {
				seqs = append(seqs, p.SequenceNumber)
			}
		}
	}
	return seqs
}

// TestFragmentSequenceAcrossSessions: mfhd sequence numbers rise part by
// part, and a later packager of the same timeline (idle stop, restart)
// continues above the earlier one's instead of at 1 (old main).
func TestFragmentSequenceAcrossSessions(t *testing.T) {
	video, audio := testTracks(t)
	var last uint32
	for i, start := range []time.Duration{0, 10 * time.Second} {
		p := New(Options{})
		require.NoError(t, p.SetTracks(video, audio))
		f := &feeder{video: video, audio: audio, gop: 50, start: start}
		f.feed(t, p, start+6*time.Second)
		seqs := mfhdSeqs(t, p.Snapshot())
		require.NotEmpty(t, seqs)
		require.Greater(t, seqs[0], last, "session %d starts at %d, after %d", i, seqs[0], last)
		for j := 1; j < len(seqs); j++ {
			require.Equal(t, seqs[j-1]+1, seqs[j], "session %d part %d", i, j)
		}
		last = seqs[len(seqs)-1]
	}
}
