package webrtc

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// A WHIP publisher sending H.265 or AV1 (as OBS and browsers can) feeds the
// hub with the codec as is: the track is built from the in-band parameter
// sets / sequence header, the stream starts at a keyframe, and the hub's
// frames decode with ffmpeg.
func TestWHIPIngestsH265AndAV1(t *testing.T) {
	for _, tc := range vectorCodecs {
		t.Run(tc.codec.String(), func(t *testing.T) {
			testutil.CheckGoroutines(t)
			vec := testutil.EncodeVector(t, tc.box, tc.encoder...)
			src, err := av.NewTrack(tc.codec, vec.Config)
			require.NoError(t, err)
			s, h := newTestServer(t, nil)

			c, offer := newWHIPClientWith(t, pion.RTPCodecCapability{MimeType: tc.mime, ClockRate: 90000})
			resp := postWHIP(s, "live/w", offer)
			answer, _ := io.ReadAll(resp.Body)
			require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
			require.NoError(t, c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))

			ctx, cancel := context.WithCancel(context.Background())
			sent := make(chan struct{})
			go func() { // the publisher: the vector in a loop, 25 fps
				defer close(sent)
				tick := time.NewTicker(40 * time.Millisecond)
				defer tick.Stop()
				for i := 0; ; i++ {
					f := vec.Frames[i%len(vec.Frames)]
					_ = c.video.WriteSample(media.Sample{Data: sampleFor(t, src, f), Duration: 40 * time.Millisecond})
					select {
					case <-tick.C:
					case <-ctx.Done():
						return
					}
				}
			}()
			defer func() { cancel(); <-sent }()

			var rd *hub.Reader
			require.Eventually(t, func() bool {
				rd, err = h.Subscribe(ctx, "live/w", hub.ClientInfo{Protocol: "test"})
				return err == nil
			}, 5*time.Second, 20*time.Millisecond)
			defer rd.Close()
			var got []*av.Packet
			for len(got) < 40 {
				rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
				pkts, err := rd.Read(rctx, nil)
				rcancel()
				require.NoError(t, err, "after %d hub packets", len(got))
				got = append(got, pkts...)
			}
			tr := got[0].Track
			require.True(t, got[0].Key, "starts at a keyframe")
			require.Equal(t, tc.codec, tr.Codec)
			require.Equal(t, 320, tr.Width)
			require.Equal(t, 240, tr.Height)
			require.Equal(t, src.CodecString, tr.CodecString, "the record built from in-band parameters describes the encoder's stream")
			t.Logf("%s track from WHIP: %s %dx%d, config %d bytes", tc.codec, tr.CodecString, tr.Width, tr.Height, len(tr.Config))

			// The hub's frames, as a player would get them, decode.
			file := filepath.Join(t.TempDir(), "hub."+tc.format)
			require.NoError(t, os.WriteFile(file, rawStream(t, got), 0o600))
			decoded := testutil.CountFrames(t, file, tc.format)
			require.GreaterOrEqual(t, decoded, len(got)-1, "hub frames decoded by ffprobe")
		})
	}
}

// sampleFor is what a WebRTC encoder hands its packetizer for frame f:
// Annex-B with the parameter sets before keyframes (H.265), or the OBUs
// with the sequence header before keyframes (AV1).
func sampleFor(t *testing.T, src *av.Track, f testutil.Frame) []byte {
	t.Helper()
	if src.Codec == av.CodecAV1 {
		if f.Key && !hasSequenceHeader(f.Data) {
			return append(append([]byte(nil), src.Config[4:]...), f.Data...)
		}
		return f.Data
	}
	var out []byte
	if f.Key {
		vps, sps, pps, err := av.H265ParameterSets(src.Config)
		require.NoError(t, err)
		for _, ps := range append(append(vps, sps...), pps...) {
			out = append(append(out, 0, 0, 0, 1), ps...)
		}
	}
	out, err := av.AVCCToAnnexB(out, f.Data)
	require.NoError(t, err)
	return out
}

// rawStream writes hub packets as a raw elementary stream ffmpeg reads:
// Annex-B with the track's parameter sets first (H.265), or temporal units
// each opened by a temporal delimiter (AV1 low-overhead "obu" format).
func rawStream(t *testing.T, pkts []*av.Packet) []byte {
	t.Helper()
	var out []byte
	for i, p := range pkts {
		if p.Track.Codec == av.CodecAV1 {
			out = append(append(out, 0x12, 0x00), p.Data...)
			continue
		}
		if i == 0 {
			vps, sps, pps, err := av.H265ParameterSets(p.Track.Config)
			require.NoError(t, err)
			for _, ps := range append(append(vps, sps...), pps...) {
				out = append(append(out, 0, 0, 0, 1), ps...)
			}
		}
		var err error
		out, err = av.AVCCToAnnexB(out, p.Data)
		require.NoError(t, err)
	}
	return out
}
