package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// whipFiles makes the media a WHIP publisher sends: an H.264 Annex-B
// elementary stream (constrained baseline, no B-frames, a keyframe every
// second with SPS/PPS repeated) and an Ogg Opus file with one 20 ms packet
// per page.
func whipFiles(t *testing.T, d time.Duration) (h264File, oggFile string) {
	t.Helper()
	testutil.RequireTool(t, "ffmpeg")
	dir := t.TempDir()
	h264File, oggFile = filepath.Join(dir, "in.h264"), filepath.Join(dir, "in.ogg")
	secs := d.Seconds()
	run := func(args ...string) {
		out, err := exec.Command("ffmpeg", append([]string{"-hide_banner", "-v", "error", "-y"}, args...)...).CombinedOutput()
		require.NoError(t, err, "ffmpeg: %s", out)
	}
	run("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", ftoa(secs),
		"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "30", "-pix_fmt", "yuv420p",
		"-x264-params", "repeat-headers=1", "-f", "h264", h264File)
	run("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", ftoa(secs),
		"-c:a", "libopus", "-b:a", "64k", "-page_duration", "20000", "-f", "ogg", oggFile)
	return h264File, oggFile
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

// whipPublisher is a WHIP client on pion sending H.264 and Opus from files
// in real time.
type whipPublisher struct {
	pc           *pion.PeerConnection
	video, audio *pion.TrackLocalStaticSample
	location     string
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	mu           sync.Mutex
	sentFrames   int
}

// newWHIPPublisher builds a sendonly H.264 + Opus PeerConnection and
// returns it with its complete offer.
func newWHIPPublisher(t *testing.T) (*whipPublisher, string) {
	t.Helper()
	pc := newLoopbackPeer(t)
	p := &whipPublisher{pc: pc, cancel: func() {}}
	t.Cleanup(p.stop)
	var err error
	p.video, err = pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "sluice-test")
	require.NoError(t, err)
	p.audio, err = pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		"audio", "sluice-test")
	require.NoError(t, err)
	for _, tr := range []pion.TrackLocal{p.video, p.audio} {
		snd, err := pc.AddTransceiverFromTrack(tr, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly})
		require.NoError(t, err)
		p.wg.Add(1)
		go func() { // RTCP (PLI, NACK, reports) must be read
			defer p.wg.Done()
			buf := make([]byte, 1500)
			for {
				if _, _, err := snd.Sender().Read(buf); err != nil {
					return
				}
			}
		}()
	}
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := pion.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	return p, pc.LocalDescription().SDP
}

// postWHIP sends an offer and returns the status, body and Location.
func postWHIP(t *testing.T, url, offer, token string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(offer))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header.Get("Location")
}

// publish POSTs the offer, applies the answer and starts sending the files
// in real time (looping them) until stop.
func (p *whipPublisher) publish(t *testing.T, httpAddr, path, offer, h264File, oggFile string) {
	t.Helper()
	p.publishWithKey(t, httpAddr, path, offer, h264File, oggFile, "")
}

// publishWithKey is publish with a bearer key ("" for none).
func (p *whipPublisher) publishWithKey(t *testing.T, httpAddr, path, offer, h264File, oggFile, key string) {
	t.Helper()
	code, answer, loc := postWHIP(t, "http://"+httpAddr+"/"+path+"/whip", offer, key)
	require.Equal(t, http.StatusCreated, code, "POST whip: %s", answer)
	require.True(t, strings.HasPrefix(loc, "/"+path+"/whip/"), "Location %q", loc)
	require.Contains(t, answer, "a=candidate:")
	p.location = loc
	require.NoError(t, p.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer}))

	vdata, err := os.ReadFile(h264File)
	require.NoError(t, err)
	adata, err := os.ReadFile(oggFile)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		p.sendVideo(ctx, vdata)
	}()
	go func() {
		defer p.wg.Done()
		p.sendAudio(ctx, adata)
	}()
}

func (p *whipPublisher) stop() {
	p.cancel()
	_ = p.pc.Close()
	p.wg.Wait()
}

// sendVideo writes one access unit (Annex-B, the NAL units up to and
// including a slice) every 1/30 s.
func (p *whipPublisher) sendVideo(ctx context.Context, data []byte) {
	const frame = time.Second / 30
	tick := time.NewTicker(frame)
	defer tick.Stop()
	for {
		r, err := h264reader.NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		var au []byte
		for {
			nal, err := r.NextNAL()
			if err != nil {
				break
			}
			au = append(au, 0, 0, 0, 1)
			au = append(au, nal.Data...)
			if nal.UnitType != h264reader.NalUnitTypeCodedSliceIdr && nal.UnitType != h264reader.NalUnitTypeCodedSliceNonIdr {
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := p.video.WriteSample(media.Sample{Data: au, Duration: frame}); err != nil && errors.Is(err, io.ErrClosedPipe) {
				return
			}
			p.mu.Lock()
			p.sentFrames++
			p.mu.Unlock()
			au = nil
		}
	}
}

// sendAudio writes one Ogg page (one 20 ms Opus packet) every 20 ms.
func (p *whipPublisher) sendAudio(ctx context.Context, data []byte) {
	const packet = 20 * time.Millisecond
	tick := time.NewTicker(packet)
	defer tick.Stop()
	for {
		r, _, err := oggreader.NewWith(bytes.NewReader(data))
		if err != nil {
			return
		}
		for {
			page, hdr, err := r.ParseNextPage()
			if err != nil {
				break
			}
			if len(page) == 0 || hdr.GranulePosition == 0 || bytes.HasPrefix(page, []byte("OpusTags")) {
				continue // the OpusHead/OpusTags header pages
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := p.audio.WriteSample(media.Sample{Data: page, Duration: packet}); err != nil && errors.Is(err, io.ErrClosedPipe) {
				return
			}
		}
	}
}

// decodeVideo decodes d of url's video with ffmpeg and returns the frame
// count and every error line.
func decodeVideo(t *testing.T, url string, d time.Duration, inputArgs ...string) (int, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	args := append([]string{"-hide_banner", "-nostdin", "-v", "error"}, inputArgs...)
	args = append(args, "-i", url, "-map", "0:v:0", "-t", ftoa(d.Seconds()), "-f", "null", "-progress", "pipe:1", "-")
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "ffmpeg decode %s: %s", url, stderr.String())
	frames := 0
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "frame="); ok {
			frames, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	var errs []string
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" {
			errs = append(errs, line)
		}
	}
	return frames, errs
}

func probeCodecs(streams []testutil.ProbeStream) map[string]string {
	out := map[string]string{}
	for _, s := range streams {
		out[s.CodecType] = s.CodecName
	}
	return out
}

// A pion WHIP client publishes H.264 + Opus made by ffmpeg in real time;
// the server derives AAC from the Opus (one ffmpeg per stream), so the
// stream plays over HTTP-FLV and MPEG-TS HLS as H.264 + AAC, decoding
// without errors, while fMP4 HLS carries the Opus as is
// (TestWHIPOpusStaysOpusInFMP4HLS); a second WHIP publisher on the path
// gets 409; DELETE ends the publish and the stream goes away after the
// republish grace.
func TestWHIPPublishPlaysOverFLVAndHLS(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{"SLUICE_HUB_REPUBLISH_GRACE=1s", "SLUICE_HLS_VARIANT=mpegts"})
	h264File, oggFile := whipFiles(t, 10*time.Second)

	pub, offer := newWHIPPublisher(t)
	pub.publish(t, s.HTTPAddr, "live/whip", offer, h264File, oggFile)
	waitForStream(t, s, "live/whip")
	waitLog(t, s, "audio bridge started")

	// A second publisher: 409 Conflict, the first keeps publishing.
	other, offer2 := newWHIPPublisher(t)
	code, body, _ := postWHIP(t, "http://"+s.HTTPAddr+"/live/whip/whip", offer2, "")
	require.Equal(t, http.StatusConflict, code, "%s", body)
	other.stop()

	// HTTP-FLV: H.264 + AAC, both decode without errors.
	flvURL := "http://" + s.HTTPAddr + "/live/whip.flv"
	streams, err := testutil.Probe(t, flvURL, 20*time.Second)
	require.NoError(t, err)
	t.Logf("HTTP-FLV streams: %+v", streams)
	require.Equal(t, map[string]string{"video": "h264", "audio": "aac"}, probeCodecs(streams))
	res, err := testutil.Decode(t, flvURL, 3*time.Second)
	require.NoError(t, err)
	t.Logf("HTTP-FLV: decoded %d video frames in 3 s; errors: %q", res.VideoFrames, res.Errors)
	require.Empty(t, res.Errors)
	require.GreaterOrEqual(t, res.VideoFrames, 60)
	// On the wire: AAC only (never the publisher's Opus), its sequence
	// header before its first frame.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, flvURL)
	require.NoError(t, err)
	aacConfig, aacFrames := false, 0
	for aacFrames < 25 {
		tag, err := st.r.ReadTag()
		require.NoError(t, err)
		if tag.Type != flv.TagAudio {
			continue
		}
		a, err := flv.ParseAudio(tag.Body)
		require.NoError(t, err)
		require.Equal(t, av.CodecAAC, a.Codec, "FLV viewers get the derived AAC")
		if a.PacketType == flv.SequenceHeader {
			aacConfig = true
			continue
		}
		require.True(t, aacConfig, "AAC sequence header first")
		aacFrames++
	}
	cancel()

	// HLS, MPEG-TS variant: H.264 + AAC.
	hlsURL := "http://" + s.HTTPAddr + "/live/whip.m3u8"
	hls := probeHLSCodecs(t, hlsURL)
	require.Equal(t, map[string]string{"video": "h264", "audio": "aac"}, hls)
	res, err = testutil.Decode(t, hlsURL, 3*time.Second)
	require.NoError(t, err)
	t.Logf("HLS: decoded %d video frames in 3 s; errors: %q", res.VideoFrames, res.Errors)
	require.Empty(t, res.Errors)
	require.GreaterOrEqual(t, res.VideoFrames, 60)

	// The API shows the publisher's Opus and the AAC derived from it.
	var stream struct {
		Tracks struct {
			Audio        struct{ Codec string } `json:"audio"`
			DerivedAudio struct{ Codec string } `json:"derived_audio"`
		} `json:"tracks"`
	}
	getJSON(t, "http://"+s.HTTPAddr+"/api/v1/streams/live/whip", &stream)
	require.Equal(t, "opus", stream.Tracks.Audio.Codec)
	require.Equal(t, "aac", stream.Tracks.DerivedAudio.Codec)

	// Observability: one WHIP session in the API and the metrics.
	var server struct {
		WebRTC struct {
			WHEPSessions int `json:"whep_sessions"`
			WHIPSessions int `json:"whip_sessions"`
		} `json:"webrtc"`
	}
	getJSON(t, "http://"+s.HTTPAddr+"/api/v1/server", &server)
	require.Equal(t, 1, server.WebRTC.WHIPSessions)
	require.Contains(t, getText(t, "http://"+s.HTTPAddr+"/metrics"), `sluice_webrtc_sessions{kind="whip"} 1`)

	// DELETE ends the publish (draft-ietf-wish-whip §4.2).
	req, err := http.NewRequest(http.MethodDelete, "http://"+s.HTTPAddr+pub.location, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	waitLog(t, s, "whip session closed")
	// The stream waits republish_grace (1 s) for a new publisher, then ends.
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + s.HTTPAddr + "/api/v1/streams/live/whip")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNotFound
	}, 10*time.Second, 100*time.Millisecond, "stream gone after the republish grace")
}

// probeHLSCodecs waits until ffprobe finds both a video and an audio
// stream in the HLS playlist at url.
func probeHLSCodecs(t *testing.T, url string) map[string]string {
	t.Helper()
	var got map[string]string
	var streams []testutil.ProbeStream
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if streams, err = testutil.Probe(t, url, 20*time.Second); err == nil {
			if got = probeCodecs(streams); got["video"] != "" && got["audio"] != "" {
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("HLS streams: %+v (err %v)", streams, err)
	return got
}

// The fMP4 variants carry the publisher's Opus as is (no transcoding loss).
func TestWHIPOpusStaysOpusInFMP4HLS(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	h264File, oggFile := whipFiles(t, 8*time.Second)
	pub, offer := newWHIPPublisher(t)
	pub.publish(t, s.HTTPAddr, "live/whipf", offer, h264File, oggFile)
	waitForStream(t, s, "live/whipf")
	hls := probeHLSCodecs(t, "http://"+s.HTTPAddr+"/live/whipf.m3u8")
	require.Equal(t, map[string]string{"video": "h264", "audio": "opus"}, hls)
}

// WHIP publish and WHEP play go through the same keys as RTMP and FLV:
// the bearer token (draft-ietf-wish-whip §4.4) or ?key=.
func TestWHIPAndWHEPAuthKeys(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cfg := writeConfig(t, `
paths:
  "live/*":
    publish_keys: ["pub-s3cret"]
    play_keys: ["view-s3cret"]
`)
	s := testutil.StartSluice(t, nil, "-config", cfg)
	h264File, oggFile := whipFiles(t, 4*time.Second)
	whipURL := "http://" + s.HTTPAddr + "/live/keyed/whip"

	p, offer := newWHIPPublisher(t)
	code, body, _ := postWHIP(t, whipURL, offer, "")
	require.Equal(t, http.StatusUnauthorized, code, "%s", body)
	code, body, _ = postWHIP(t, whipURL, offer, "wrong")
	require.Equal(t, http.StatusUnauthorized, code, "%s", body)
	code, body, _ = postWHIP(t, whipURL, offer, "view-s3cret")
	require.Equal(t, http.StatusUnauthorized, code, "a play key does not publish: %s", body)
	p.stop()

	p, offer = newWHIPPublisher(t)
	p.publishWithKey(t, s.HTTPAddr, "live/keyed", offer, h264File, oggFile, "pub-s3cret")
	status, _ := httpStatus(t, "http://"+s.HTTPAddr+"/live/keyed.flv?key=view-s3cret")
	deadline := time.Now().Add(20 * time.Second)
	for status != http.StatusOK && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		status, _ = httpStatus(t, "http://"+s.HTTPAddr+"/live/keyed.flv?key=view-s3cret")
	}
	require.Equal(t, http.StatusOK, status)

	whepURL := "http://" + s.HTTPAddr + "/live/keyed/whep"
	code, body, _ = postWHIP(t, whepURL, minimalOffer, "")
	require.Equal(t, http.StatusUnauthorized, code, "%s", body)
	code, body, _ = postWHIP(t, whepURL+"?key=pub-s3cret", minimalOffer, "")
	require.Equal(t, http.StatusUnauthorized, code, "%s", body)
	code, body, _ = postWHIP(t, whepURL, minimalOffer, "view-s3cret")
	require.Equal(t, http.StatusCreated, code, "%s", body)
	require.Eventually(t, func() bool { return len(s.Logs("whep session started")) == 1 }, 5*time.Second, 50*time.Millisecond)
}
