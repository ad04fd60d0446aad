package packager

import (
	"bytes"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// mp3Track returns an MP3 track from a frame header and a packet of n
// frames of that header (zero payload; lenBytes long each).
func mp3Track(t *testing.T, hdr []byte, frameLen, n int) (*av.Track, []byte) {
	t.Helper()
	cfg, err := av.MP3Config(hdr)
	require.NoError(t, err)
	tr, err := av.NewTrack(av.CodecMP3, cfg)
	require.NoError(t, err)
	f := append(append([]byte{}, hdr...), make([]byte, frameLen-len(hdr))...)
	return tr, bytes.Repeat(f, n)
}

// feedMP3 writes 12 s of 25 fps video and MP3 packets of samples each,
// timestamped in whole milliseconds as RTMP carries them.
func feedMP3(t *testing.T, p *Packager, video, audio *av.Track, data []byte, samples int) {
	t.Helper()
	vn, an := 0, 0
	for vn < 300 {
		vt := time.Duration(vn) * 40 * time.Millisecond
		at := (time.Duration(an*samples) * time.Second / time.Duration(audio.SampleRate)).Round(time.Millisecond)
		if at < vt {
			require.NoError(t, p.WritePacket(&av.Packet{Track: audio, DTS: at, PTS: at, Key: true, Data: data}))
			an++
			continue
		}
		key := vn%50 == 0
		require.NoError(t, p.WritePacket(&av.Packet{Track: video, DTS: vt, PTS: vt, Key: key, Data: frame(key)}))
		vn++
	}
}

// TestMP3InFMP4: the init section describes MP3 as mp4a with an esds of
// object type 0x6B (mediacommon reads it back as MPEG-1 audio with the
// stream's rate and channels), and samples last exactly one packet's
// frames — 1152 samples per MPEG-1 frame, 576 per MPEG-2 LSF frame —
// however the millisecond timestamps round (old main: track dropped).
func TestMP3InFMP4(t *testing.T) {
	video, _ := testTracks(t)
	for _, tc := range []struct {
		name            string
		hdr             []byte
		frameLen, count int
		rate, perPacket int
	}{
		{"MPEG-1 44.1 kHz, one frame a packet", []byte{0xFF, 0xFB, 0x90, 0x64}, 417, 1, 44100, 1152},
		{"MPEG-2 22.05 kHz, two frames a packet", []byte{0xFF, 0xF3, 0x80, 0x04}, 208, 2, 22050, 1152},
	} {
		t.Run(tc.name, func(t *testing.T) {
			audio, data := mp3Track(t, tc.hdr, tc.frameLen, tc.count)
			p := New(Options{})
			require.NoError(t, p.SetTracks(video, audio))
			feedMP3(t, p, video, audio, data, tc.perPacket)
			snap := p.Snapshot()
			require.NotEmpty(t, snap.Segments)
			init := snap.Segments[0].Init
			require.NotNil(t, init)
			var in fmp4.Init
			require.NoError(t, in.Unmarshal(bytes.NewReader(init.Data)))
			require.Len(t, in.Tracks, 2)
			c, ok := in.Tracks[1].Codec.(*fmp4.CodecMPEG1Audio)
			require.True(t, ok, "audio codec in the init section: %T", in.Tracks[1].Codec)
			require.Equal(t, tc.rate, c.SampleRate)
			require.Equal(t, 2, c.ChannelCount)
			require.Equal(t, uint32(tc.rate), in.Tracks[1].TimeScale)

			starts, durs := audioSamples(t, snap)
			require.Greater(t, len(durs), 100)
			for i, d := range durs {
				require.Equal(t, uint64(tc.perPacket), d, "sample %d; durations %v", i, durs[:10])
				require.Equal(t, uint64(i*tc.perPacket), starts[i], "sample %d", i)
			}
		})
	}
}

// TestMP3InMPEGTS: MPEG-TS segments carry MPEG-1 MP3 as ISO 11172-3 audio
// (mediacommon's reader finds an MPEG-1 audio track and every frame);
// MPEG-2 LSF MP3, which the writer cannot take, is left out with an error
// that says why, and the video goes on.
func TestMP3InMPEGTS(t *testing.T) {
	video, _ := testTracks(t)
	audio, data := mp3Track(t, []byte{0xFF, 0xFB, 0x90, 0x64}, 417, 1)
	p := New(Options{Format: FormatMPEGTS})
	require.NoError(t, p.SetTracks(video, audio))
	feedMP3(t, p, video, audio, data, 1152)
	snap := p.Snapshot()
	var seg *Segment
	for i := range snap.Segments {
		if snap.Segments[i].Complete {
			seg = &snap.Segments[i]
			break
		}
	}
	require.NotNil(t, seg, "a complete segment")
	r := &mpegts.Reader{R: bytes.NewReader(seg.TS)}
	require.NoError(t, r.Initialize())
	var mp3 *mpegts.Track
	for _, tr := range r.Tracks() {
		if _, ok := tr.Codec.(*mpegts.CodecMPEG1Audio); ok {
			mp3 = tr
		}
	}
	require.NotNil(t, mp3, "MPEG-1 audio track in the PMT: %v", r.Tracks())
	frames := 0
	r.OnDataMPEG1Audio(mp3, func(_ int64, fr [][]byte) error {
		for _, f := range fr {
			require.Len(t, f, 417)
		}
		frames += len(fr)
		return nil
	})
	for r.Read() == nil {
	}
	// A 2 s segment holds 2 s of 26.1 ms frames (the last PES may be cut
	// off by the reader's end of input).
	require.InDelta(t, 76, frames, 3, "MP3 frames in a 2 s segment")

	// Packets that are no MP3 frames (a hostile or broken publisher) are
	// left out of MPEG-TS, even first in a segment, and the packager goes on.
	p = New(Options{Format: FormatMPEGTS})
	require.NoError(t, p.SetTracks(video, audio))
	require.NoError(t, p.WritePacket(&av.Packet{Track: video, DTS: 0, PTS: 0, Key: true, Data: frame(true)}))
	require.NoError(t, p.WritePacket(&av.Packet{Track: audio, DTS: time.Millisecond, PTS: time.Millisecond, Key: true, Data: []byte{1, 2, 3, 4, 5}}))
	feedMP3(t, p, video, audio, data, 1152)
	require.NotEmpty(t, p.Snapshot().Segments)
	require.True(t, p.Snapshot().Segments[0].Complete, "first segment completed")

	lsf, _ := mp3Track(t, []byte{0xFF, 0xF3, 0x80, 0x04}, 208, 1)
	err := New(Options{Format: FormatMPEGTS}).SetTracks(nil, lsf)
	require.ErrorIs(t, err, ErrUnsupportedCodec)
	require.Contains(t, err.Error(), "32, 44.1 or 48 kHz only, not 22050 Hz")
	require.NoError(t, New(Options{Format: FormatMPEGTS}).SetTracks(video, lsf), "video goes on without the audio")
	require.NoError(t, New(Options{}).SetTracks(nil, lsf), "fMP4 carries MPEG-2 MP3")
}

// TestCodecsParam: MP3's codecs parameter follows the container (RFC 6381
// §3.3 object type in fMP4's esds; the MPEG-4 audio object type HLS
// players look for in MPEG-TS); other codecs keep theirs.
func TestCodecsParam(t *testing.T) {
	_, aac := testTracks(t)
	lsf, _ := mp3Track(t, []byte{0xFF, 0xF3, 0x80, 0x04}, 208, 1)
	v1, _ := mp3Track(t, []byte{0xFF, 0xFB, 0x90, 0x64}, 417, 1)
	require.Equal(t, "mp4a.6B", CodecsParam(FormatFMP4, v1))
	require.Equal(t, "mp4a.6B", CodecsParam(FormatFMP4, lsf), "mediacommon writes 0x6B for MPEG-2 audio too")
	require.Equal(t, "mp4a.40.34", CodecsParam(FormatMPEGTS, v1))
	require.Equal(t, aac.CodecString, CodecsParam(FormatMPEGTS, aac))
	require.Equal(t, aac.CodecString, CodecsParam(FormatFMP4, aac))
}
