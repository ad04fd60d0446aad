package mpegts

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
)

// sink collects what Demux publishes.
type sink struct {
	video, audio bool
	announced    bool
	pkts         []*av.Packet
	fail         error
}

func (s *sink) Announce(v, a bool) { s.video, s.audio, s.announced = v, a, true }
func (s *sink) WritePacket(p *av.Packet) error {
	if s.fail != nil {
		return s.fail
	}
	s.pkts = append(s.pkts, p)
	return nil
}

func (s *sink) count(k av.Kind) (n, keys int, codec av.Codec) {
	for _, p := range s.pkts {
		if p.Kind() == k {
			n++
			if p.Key {
				keys++
			}
			codec = p.Track.Codec
		}
	}
	return
}

func readFile(t *testing.T, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// udpReader hands the stream over in SRT-sized messages, as a socket would.
type msgReader struct{ b []byte }

func (r *msgReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b[:min(len(r.b), 1316)])
	r.b = r.b[n:]
	return n, nil
}

func TestDemuxCodecs(t *testing.T) {
	for _, tc := range []struct {
		file         string
		video, audio av.Codec
		minV, minA   int
	}{
		{"h264_aac.ts", av.CodecH264, av.CodecAAC, 5, 20},
		{"h265_opus.ts", av.CodecH265, av.CodecOpus, 5, 20},
		{"mp3.ts", av.CodecUnknown, av.CodecMP3, 0, 15},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s := &sink{}
			err := Demux(&msgReader{readFile(t, tc.file)}, s, DemuxOptions{})
			require.ErrorIs(t, err, io.EOF)
			require.True(t, s.announced)
			require.Equal(t, tc.video != av.CodecUnknown, s.video, "announced video")
			require.True(t, s.audio, "announced audio")
			nv, kv, cv := s.count(av.KindVideo)
			na, _, ca := s.count(av.KindAudio)
			require.GreaterOrEqual(t, nv, tc.minV, "video packets")
			require.GreaterOrEqual(t, na, tc.minA, "audio packets")
			require.Equal(t, tc.audio, ca)
			if tc.video != av.CodecUnknown {
				require.Equal(t, tc.video, cv)
				require.GreaterOrEqual(t, kv, 1, "keyframes")
				require.True(t, s.pkts[0].Kind() == av.KindAudio || s.pkts[0].Key, "video starts at a keyframe")
				vt := s.pkts[len(s.pkts)-1].Track
				for _, p := range s.pkts {
					if p.Kind() == av.KindVideo {
						vt = p.Track
						break
					}
				}
				require.Equal(t, 64, vt.Width)
				require.Equal(t, 48, vt.Height)
			}
			// Timestamps: audio monotonic, no jumps over a second.
			var last time.Duration = -1
			for _, p := range s.pkts {
				if p.Kind() != av.KindAudio {
					continue
				}
				if last >= 0 {
					require.GreaterOrEqual(t, p.DTS, last, "audio DTS goes back")
					require.Less(t, p.DTS-last, time.Second)
				}
				last = p.DTS
			}
		})
	}
}

// TestMuxRoundTrip: what Demux reads, Muxer writes back into TS that
// Demux reads again with the same packets.
func TestMuxRoundTrip(t *testing.T) {
	for _, file := range []string{"h264_aac.ts", "h265_opus.ts", "mp3.ts"} {
		t.Run(file, func(t *testing.T) {
			s := &sink{}
			require.ErrorIs(t, Demux(bytes.NewReader(readFile(t, file)), s, DemuxOptions{}), io.EOF)
			var vt, at *av.Track
			for _, p := range s.pkts {
				if p.Kind() == av.KindVideo && vt == nil {
					vt = p.Track
				}
				if p.Kind() == av.KindAudio && at == nil {
					at = p.Track
				}
			}
			var out bytes.Buffer
			m, err := NewMuxer(&out, vt, at)
			require.NoError(t, err)
			require.NoError(t, m.WriteTables())
			for _, p := range s.pkts {
				require.NoError(t, m.WritePacket(p))
			}
			require.Zero(t, out.Len()%188)
			again := &sink{}
			require.ErrorIs(t, Demux(bytes.NewReader(out.Bytes()), again, DemuxOptions{}), io.EOF)
			n1, k1, _ := s.count(av.KindVideo)
			n2, k2, _ := again.count(av.KindVideo)
			require.Equal(t, n1, n2, "video packets")
			require.Equal(t, k1, k2, "keyframes")
			a1, _, _ := s.count(av.KindAudio)
			a2, _, _ := again.count(av.KindAudio)
			// mediacommon buffers the last audio PES until the next one.
			require.InDelta(t, a1, a2, 3, "audio packets")
		})
	}
}

func TestDemuxRefusesGarbage(t *testing.T) {
	// Random bytes: sync lost over and over.
	junk := make([]byte, 200_000)
	_, _ = rand.Read(junk)
	err := Demux(bytes.NewReader(junk), &sink{}, DemuxOptions{})
	require.ErrorIs(t, err, errGarbage)
	require.Contains(t, err.Error(), "lost sync")

	// Bytes without a sync byte at all, forever.
	err = Demux(&repeatReader{pkt: bytes.Repeat([]byte{1, 2, 3, 4}, 47)}, &sink{}, DemuxOptions{MaxProbeBytes: 1 << 20})
	require.ErrorIs(t, err, errGarbage)

	// Valid packets forever without a PMT: the probe budget ends it.
	null := make([]byte, 188)
	null[0], null[1], null[2], null[3] = 0x47, 0x01, 0x00, 0x10
	err = Demux(&repeatReader{pkt: null}, &sink{}, DemuxOptions{MaxProbeBytes: 1 << 20})
	require.ErrorIs(t, err, errGarbage)
	require.Contains(t, err.Error(), "program map table")

	// A PES that never ends: the PES cap ends it.
	ts := readFile(t, "h264_aac.ts")
	pes := make([]byte, 188)
	copy(pes, []byte{0x47, 0x01, 0x00, 0x10}) // PID 256 (ffmpeg's video), no unit start
	err = Demux(io.MultiReader(bytes.NewReader(ts), &repeatReader{pkt: pes}), &sink{}, DemuxOptions{MaxPESSize: 1 << 20})
	require.ErrorIs(t, err, errGarbage)
}

func TestDemuxStopsWhenSinkRefuses(t *testing.T) {
	boom := errors.New("stream ended")
	err := Demux(bytes.NewReader(readFile(t, "h264_aac.ts")), &sink{fail: boom}, DemuxOptions{})
	require.ErrorIs(t, err, boom)
}

type repeatReader struct{ pkt []byte }

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for len(p)-n >= len(r.pkt) {
		n += copy(p[n:], r.pkt)
	}
	return n, nil
}

// TestDemuxResyncsAfterALostMessage: a sender whose messages are not
// whole TS packets loses the grid when one message is lost; the demuxer
// finds it again instead of dropping the publisher.
func TestDemuxResyncsAfterALostMessage(t *testing.T) {
	ts := readFile(t, "h264_aac.ts")
	var kept []byte
	for i := 0; i < len(ts); i += 1000 {
		if i/1000 == len(ts)/1000-3 {
			continue // lost, near the end
		}
		kept = append(kept, ts[i:min(i+1000, len(ts))]...)
	}
	s := &sink{}
	require.ErrorIs(t, Demux(&msgReader{kept}, s, DemuxOptions{}), io.EOF)
	all := &sink{}
	require.ErrorIs(t, Demux(bytes.NewReader(ts), all, DemuxOptions{}), io.EOF)
	n, _, _ := s.count(av.KindVideo)
	total, _, _ := all.count(av.KindVideo)
	require.GreaterOrEqual(t, n, total-2, "video packets despite the loss (of %d)", total)
	a, _, _ := s.count(av.KindAudio)
	totalA, _, _ := all.count(av.KindAudio)
	// ffmpeg packs several AAC frames into one PES: a lost message costs
	// a few of them.
	require.GreaterOrEqual(t, a, totalA/3, "audio packets around the loss (of %d)", totalA)
}
