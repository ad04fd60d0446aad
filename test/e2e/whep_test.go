package e2e

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// whepViewer is a WHEP client on pion: real ICE, DTLS and SRTP over
// loopback, H.264 depacketized into an Annex-B byte stream.
type whepViewer struct {
	pc       *pion.PeerConnection
	location string
	posted   time.Time

	mu          sync.Mutex
	annexB      bytes.Buffer
	videoPkts   int
	frames      int // RTP marker bits: complete access units
	audioPkts   int
	audioCodec  string
	firstVideo  time.Duration // since the POST; 0 until the first packet
	readersDone sync.WaitGroup
}

// newLoopbackPeer returns a pion PeerConnection with the default codecs
// whose ICE uses loopback UDP only (no mDNS), closed by the caller.
func newLoopbackPeer(t *testing.T) *pion.PeerConnection {
	t.Helper()
	me := &pion.MediaEngine{}
	require.NoError(t, me.RegisterDefaultCodecs())
	se := pion.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	pc, err := pion.NewAPI(pion.WithMediaEngine(me), pion.WithSettingEngine(se)).NewPeerConnection(pion.Configuration{})
	require.NoError(t, err)
	return pc
}

// newWHEPViewer returns a viewer on a loopback peer that receives video
// and audio (recvonly) and reads every track it is sent, closed when the
// test ends; the caller makes the offer.
func newWHEPViewer(t *testing.T) *whepViewer {
	t.Helper()
	pc := newLoopbackPeer(t)
	v := &whepViewer{pc: pc}
	t.Cleanup(func() {
		_ = pc.Close()
		v.readersDone.Wait()
	})
	for _, kind := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		_, err := pc.AddTransceiverFromKind(kind, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly})
		require.NoError(t, err)
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		v.readersDone.Add(1)
		go func() {
			defer v.readersDone.Done()
			v.readTrack(tr)
		}()
	})
	return v
}

// playWHEP posts an offer for path to the server and connects.
func playWHEP(t *testing.T, httpAddr, path string) *whepViewer {
	t.Helper()
	v := newWHEPViewer(t)
	pc := v.pc
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := pion.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered

	v.posted = time.Now()
	resp, err := http.Post("http://"+httpAddr+"/"+path+"/whep", "application/sdp",
		strings.NewReader(pc.LocalDescription().SDP))
	require.NoError(t, err)
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "POST whep: %s", answer)
	require.Equal(t, "application/sdp", resp.Header.Get("Content-Type"))
	require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
	v.location = resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(v.location, "/"+path+"/whep/"), "Location %q", v.location)
	require.Contains(t, string(answer), "a=candidate:", "answer must carry ICE candidates (no trickle)")
	require.NoError(t, pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))
	return v
}

func (v *whepViewer) readTrack(tr *pion.TrackRemote) {
	var depack codecs.H264Packet
	isVideo := tr.Kind() == pion.RTPCodecTypeVideo
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		v.mu.Lock()
		if isVideo {
			if v.videoPkts == 0 {
				v.firstVideo = time.Since(v.posted)
			}
			v.videoPkts++
			if pkt.Marker {
				v.frames++
			}
			if nal, err := depack.Unmarshal(pkt.Payload); err == nil && v.annexB.Len() < 64<<20 {
				v.annexB.Write(nal)
			}
		} else {
			v.audioPkts++
			v.audioCodec = tr.Codec().MimeType
		}
		v.mu.Unlock()
	}
}

// waitFrames waits until n complete video frames arrived.
func (v *whepViewer) waitFrames(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		v.mu.Lock()
		got := v.frames
		v.mu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	t.Fatalf("WHEP viewer got %d frames (%d video RTP packets) within %s, want %d; peer connection %s",
		v.frames, v.videoPkts, timeout, n, v.pc.ConnectionState())
}

// waitAudio waits until the viewer has n audio RTP packets or timeout
// has passed, and returns the count and the audio codec then; the caller
// asserts on them.
func (v *whepViewer) waitAudio(n int, timeout time.Duration) (pkts int, codec string) {
	deadline := time.Now().Add(timeout)
	for {
		v.mu.Lock()
		pkts, codec = v.audioPkts, v.audioCodec
		v.mu.Unlock()
		if pkts >= n || !time.Now().Before(deadline) {
			return pkts, codec
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sessionsAfterClose returns the "sessions" count of the last "whep session
// closed" log line, waiting for one to appear.
func sessionsAfterClose(t *testing.T, s *testutil.Sluice) float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if logs := s.Logs("whep session closed"); len(logs) > 0 {
			n, _ := logs[len(logs)-1]["sessions"].(float64)
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no \"whep session closed\" log line within 10s")
	return -1
}

func TestWHEPPlaysRTMPPublishedStream(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	require.NotEmpty(t, s.Logs("webrtc listening"), "webrtc listener log line")
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/w", testutil.PublishOptions{})
	waitForStream(t, s, "live/w")

	v := playWHEP(t, s.HTTPAddr, "live/w")
	v.waitFrames(t, 90, 30*time.Second)

	v.mu.Lock()
	firstVideo := v.firstVideo
	file := filepath.Join(t.TempDir(), "whep.h264")
	require.NoError(t, os.WriteFile(file, v.annexB.Bytes(), 0o644))
	v.mu.Unlock()
	t.Logf("time to first video RTP packet after POST: %s", firstVideo)

	frames := testutil.CountFrames(t, file, "h264")
	t.Logf("ffprobe decoded %d frames from the WHEP Annex-B capture", frames)
	require.GreaterOrEqual(t, frames, 50, "decoded H.264 frames")

	// AAC is bridged to Opus by ffmpeg.
	audioPkts, audioCodec := v.waitAudio(50, 10*time.Second)
	require.GreaterOrEqual(t, audioPkts, 50, "Opus RTP packets")
	require.True(t, strings.EqualFold(audioCodec, pion.MimeTypeOpus), "audio codec %q", audioCodec)

	// DELETE ends the session (draft-ietf-wish-whep-03): 200, and the server
	// has no session left.
	req, err := http.NewRequest(http.MethodDelete, "http://"+s.HTTPAddr+v.location, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, float64(0), sessionsAfterClose(t, s))
	// The resource is gone.
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestWHEPRefusesUnpublishedStreamAndTrickle(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	resp, err := http.Post("http://"+s.HTTPAddr+"/live/nothing/whep", "application/sdp", strings.NewReader(minimalOffer))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s", body)

	req, _ := http.NewRequest(http.MethodPatch, "http://"+s.HTTPAddr+"/live/nothing/whep/0123456789abcdef0123456789abcdef",
		strings.NewReader("a=candidate:1 1 udp 1 127.0.0.1 9 typ host"))
	req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	req, _ = http.NewRequest(http.MethodOptions, "http://"+s.HTTPAddr+"/live/nothing/whep", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "Location")
	if resp.StatusCode >= 300 {
		t.Fatal(errors.New("OPTIONS: " + resp.Status))
	}
}

// minimalOffer is a syntactically complete recvonly H.264 offer.
const minimalOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
	"a=setup:actpass\r\na=rtcp-mux\r\na=recvonly\r\na=rtpmap:96 H264/90000\r\n" +
	"a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
