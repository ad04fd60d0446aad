package webrtc

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// loopVector publishes the frames of v at 25 fps, looping with continuous
// timestamps, until the test ends.
func loopVector(t *testing.T, h *hub.Hub, path string, track *av.Track, v testutil.VideoVector) {
	t.Helper()
	loopLen := time.Duration(v.Frames[len(v.Frames)-1].DTSms+40) * time.Millisecond
	publishEvery(t, h, path, false, 40*time.Millisecond, func(p *hub.Publisher, n int) {
		f := v.Frames[n%len(v.Frames)]
		dts := time.Duration(n/len(v.Frames))*loopLen + time.Duration(f.DTSms)*time.Millisecond
		pts := dts + time.Duration(f.CTSms)*time.Millisecond
		_ = p.WritePacket(&av.Packet{Track: track, DTS: dts, PTS: pts, Key: f.Key, Data: f.Data})
	})
}

// vectorCodecs are the non-H.264 video codecs WebRTC carries both ways,
// with how to make a test vector of each (testutil.EncodeVector) and
// ffprobe's input format for a raw capture.
var vectorCodecs = []struct {
	codec   av.Codec
	box     string
	encoder []string
	mime    string
	format  string
}{
	{av.CodecH265, "hvcC", []string{"-c:v", "libx265", "-tag:v", "hvc1", "-x265-params", "log-level=error:keyint=25:bframes=0"}, pion.MimeTypeH265, "hevc"},
	{av.CodecAV1, "av1C", []string{"-c:v", "libaom-av1", "-cpu-used", "8", "-g", "25", "-b:v", "300k"}, pion.MimeTypeAV1, "obu"},
}

// Streams published in H.265 or AV1 (Enhanced RTMP) are sent over WHEP as
// they are when the viewer offers the codec (RFC 7798; AV1 RTP payload
// format), with parameter sets / sequence header before each keyframe: a
// pion viewer's depacketized frames decode with ffmpeg. A viewer that
// does not offer the codec gets 400 with the reason.
func TestWHEPSendsH265AndAV1(t *testing.T) {
	for _, tc := range vectorCodecs {
		t.Run(tc.codec.String(), func(t *testing.T) {
			testutil.CheckGoroutines(t)
			vec := testutil.EncodeVector(t, tc.box, tc.encoder...)
			track, err := av.NewTrack(tc.codec, vec.Config)
			require.NoError(t, err)
			s, h := newTestServer(t, nil)
			loopVector(t, h, "live/v", track, vec)

			// A viewer offering only H.264 cannot be served.
			resp := post(t, s, "live/v", "application/sdp", testSessionHead+testICE+testFingerprint+videoSection(h264Mode1Lines))
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", body)
			require.Contains(t, string(body), "the offer has no "+tc.mime)

			pc, offer := newClientOffer(t)
			var mu sync.Mutex
			var capture []byte
			frames := 0
			var readers sync.WaitGroup
			pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
				if tr.Kind() != pion.RTPCodecTypeVideo {
					return
				}
				readers.Add(1)
				go func() {
					defer readers.Done()
					require.True(t, strings.EqualFold(tr.Codec().MimeType, tc.mime), "negotiated %s", tr.Codec().MimeType)
					var h265 codecs.H265Depacketizer
					var av1 codecs.AV1Depacketizer
					var tu []byte
					for {
						pkt, _, err := tr.ReadRTP()
						if err != nil {
							return
						}
						var out []byte
						if tc.codec == av.CodecAV1 {
							out, err = av1.Unmarshal(pkt.Payload)
						} else {
							out, err = h265.Unmarshal(pkt.Payload)
						}
						if err != nil {
							continue
						}
						tu = append(tu, out...)
						if !pkt.Marker {
							continue
						}
						mu.Lock()
						if tc.codec == av.CodecAV1 {
							// RTP drops temporal delimiters (AV1 RTP §5);
							// the low-overhead file format starts each
							// temporal unit with one.
							capture = append(capture, 0x12, 0x00)
						}
						capture = append(capture, tu...)
						frames++
						mu.Unlock()
						tu = tu[:0]
					}
				}()
			})
			t.Cleanup(func() { _ = pc.Close(); readers.Wait() })

			resp = post(t, s, "live/v", "application/sdp", offer)
			answer, _ := io.ReadAll(resp.Body)
			require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
			require.Contains(t, strings.ToLower(string(answer)), strings.ToLower(strings.TrimPrefix(tc.mime, "video/"))+"/90000")
			require.NoError(t, pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))

			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return frames >= 50
			}, 15*time.Second, 50*time.Millisecond, "video frames received")
			mu.Lock()
			file := filepath.Join(t.TempDir(), "capture."+tc.format)
			require.NoError(t, os.WriteFile(file, capture, 0o600))
			got := frames
			mu.Unlock()
			decoded := testutil.CountFrames(t, file, tc.format)
			t.Logf("%s over WHEP: %d frames received, %d decoded by ffprobe", tc.codec, got, decoded)
			require.GreaterOrEqual(t, decoded, got-2, "every received frame decodes (the first starts at a keyframe)")
		})
	}
}
