package dashserver

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/packager"
)

// packagedVideo runs a real packager over dur of video at fps (a keyframe
// every 2 s) and returns its snapshot.
func packagedVideo(t *testing.T, fps float64, dur time.Duration) *packager.Snapshot {
	t.Helper()
	sps := []byte{0x67, 0x64, 0x00, 0x0c, 0xac, 0x3b, 0x50, 0xb0, 0x4b, 0x42, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x3d, 0x08}
	pps := []byte{0x68, 0xee, 0x3c, 0x80}
	rec := []byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(sps)))
	rec = append(append(rec, sps...), 1)
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(pps)))
	rec = append(rec, pps...)
	video, err := av.NewTrack(av.CodecH264, rec)
	require.NoError(t, err)
	p := packager.New(packager.Options{})
	require.NoError(t, p.SetTracks(video, nil))
	gop := int(2*fps + 0.5)
	for n := 0; ; n++ {
		ts := time.Duration(float64(n) * float64(time.Second) / fps)
		if ts >= dur {
			break
		}
		key := n%gop == 0
		nal := byte(0x41)
		if key {
			nal = 0x65
		}
		require.NoError(t, p.WritePacket(&av.Packet{Track: video, DTS: ts, PTS: ts, Key: key,
			Data: []byte{0, 0, 0, 5, nal, 0x88, 0x84, 0x00, 0x33}}))
	}
	return p.Snapshot()
}

// The MPD frame rate comes from the packager's sample counts (no parse).
func TestFrameRateFromPackagerParts(t *testing.T) {
	for fps, want := range map[float64]string{25: "25", 30000.0 / 1001: "30000/1001", 50: "50"} {
		snap := packagedVideo(t, fps, 5*time.Second)
		require.NotEmpty(t, snap.Segments)
		require.Equal(t, want, frameRate(snap, snap.Segments[0].Init), "%.3f fps", fps)
	}
}

// A DASH segment of one track is the packager's per-track fragments: each
// decodes to that track alone, and their sizes are what the MPD's
// bandwidth counts.
func TestTrackSegmentIsOneTrack(t *testing.T) {
	snap := packagedVideo(t, 25, 5*time.Second)
	seg := &snap.Segments[0]
	require.True(t, seg.Complete)
	bufs := trackSegment(seg.Parts, trackVideo)
	var all []byte
	for _, b := range bufs {
		all = append(all, b...)
	}
	require.Equal(t, trackBytes(seg, trackVideo), len(all))
	var parts fmp4.Parts
	require.NoError(t, parts.Unmarshal(all))
	require.Len(t, parts, len(seg.Parts))
	frames := 0
	for _, p := range parts {
		require.Len(t, p.Tracks, 1)
		require.Equal(t, trackVideo, p.Tracks[0].ID)
		frames += len(p.Tracks[0].Samples)
	}
	require.Equal(t, 50, frames, "a 2 s segment at 25 fps")
	require.Empty(t, trackSegment(seg.Parts, trackAudio), "no audio track")
	require.Zero(t, trackBytes(seg, trackAudio))
}
