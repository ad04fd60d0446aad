package webrtc

import (
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// SPS and PPS of a 320x240 constrained-baseline (42c00d) x264 stream.
var (
	testSPS = mustHex("6742c00dda0507ec0440000003004000000ca3c50aa8")
	testPPS = mustHex("68ce0fc8")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// avcRecord builds an AVCDecoderConfigurationRecord (ISO 14496-15
// §5.3.3.1.2) with one SPS and one PPS.
func avcRecord(sps, pps []byte) []byte {
	b := []byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1, byte(len(sps) >> 8), byte(len(sps))}
	b = append(b, sps...)
	b = append(b, 1, byte(len(pps)>>8), byte(len(pps)))
	return append(b, pps...)
}

// publishTestStream publishes an H.264 + AAC stream with one keyframe at
// path.
func publishTestStream(t *testing.T, h *hub.Hub, path string) *hub.Publisher {
	t.Helper()
	vt, err := av.NewTrack(av.CodecH264, avcRecord(testSPS, testPPS))
	require.NoError(t, err)
	at, err := av.NewTrack(av.CodecAAC, []byte{0x12, 0x10}) // AAC-LC 44.1 kHz stereo
	require.NoError(t, err)
	p, err := h.Publish(path, hub.ClientInfo{Protocol: "test", Remote: "test"})
	require.NoError(t, err)
	p.Announce(true, true)
	idr := []byte{0, 0, 0, 5, 0x65, 0x88, 0x84, 0x00, 0x10}
	require.NoError(t, p.WritePacket(&av.Packet{Track: vt, Key: true, Data: idr}))
	require.NoError(t, p.WritePacket(&av.Packet{Track: at, Key: true, Data: []byte{0x21, 0x00}}))
	t.Cleanup(func() { p.Close("test end") })
	return p
}

// newTestServer returns an initialized server on a hub of its own (both
// closed when the test ends), after opts (if set) has adjusted the server.
func newTestServer(t *testing.T, opts func(*Server)) (*Server, *hub.Hub) {
	t.Helper()
	return newTestServerWith(t, hub.Options{}, opts)
}

// newTestServerWith is newTestServer on a hub with the options o (its
// logger and wait timeout are the test's).
func newTestServerWith(t *testing.T, o hub.Options, opts func(*Server)) (*Server, *hub.Hub) {
	t.Helper()
	o.Logger, o.WaitTimeout = slog.New(slog.DiscardHandler), time.Second
	h := hub.New(o)
	s := &Server{Hub: h, Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}
	if opts != nil {
		opts(s)
	}
	require.NoError(t, s.Initialize())
	t.Cleanup(func() {
		h.Close()
		require.NoError(t, s.Close())
	})
	return s, h
}

const (
	testFingerprint = "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n"
	testICE         = "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
	testSessionHead = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
)

func videoSection(codecs string) string {
	return "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=setup:actpass\r\na=rtcp-mux\r\na=recvonly\r\n" + codecs
}

const h264Mode1Lines = "a=rtpmap:96 H264/90000\r\na=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"

func post(t *testing.T, s *Server, path, contentType, body string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/"+path+"/whep", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	s.ServeWHEP(rec, req, path, auth.Grant{})
	return rec.Result()
}

func TestServeWHEPRefusesBadRequests(t *testing.T) {
	s, h := newTestServer(t, nil)
	publishTestStream(t, h, "live/a")
	good := testSessionHead + testFingerprint + videoSection(testICE+h264Mode1Lines)

	cases := []struct {
		name, path, ctype, body string
		code                    int
		reason                  string
	}{
		{"wrong content type", "live/a", "text/plain", good, http.StatusUnsupportedMediaType, "application/sdp"},
		{"no content type", "live/a", "", good, http.StatusUnsupportedMediaType, "application/sdp"},
		{"too large", "live/a", "application/sdp", strings.Repeat("a", maxOfferSize+1), http.StatusRequestEntityTooLarge, "larger than"},
		{"not SDP", "live/a", "application/sdp", "hello", http.StatusBadRequest, "malformed SDP"},
		{"no media", "live/a", "application/sdp", testSessionHead + testFingerprint, http.StatusBadRequest, "no media sections"},
		{"no ICE credentials", "live/a", "application/sdp", testSessionHead + testFingerprint + videoSection(h264Mode1Lines), http.StatusBadRequest, "ICE credentials"},
		{"no fingerprint", "live/a", "application/sdp", testSessionHead + videoSection(testICE+h264Mode1Lines), http.StatusBadRequest, "fingerprint"},
		{"no H.264", "live/a", "application/sdp", testSessionHead + testFingerprint + videoSection(testICE+"a=rtpmap:96 VP8/90000\r\n"), http.StatusBadRequest, "no H.264"},
		{"H.264 mode 0 only", "live/a", "application/sdp", testSessionHead + testFingerprint + videoSection(testICE+"a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=0;profile-level-id=42e01f\r\n"), http.StatusBadRequest, "packetization-mode=1"},
		{"not published", "live/none", "application/sdp", good, http.StatusNotFound, "not published"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := post(t, s, c.path, c.ctype, c.body)
			body, _ := io.ReadAll(resp.Body)
			require.Equal(t, c.code, resp.StatusCode, "%s", body)
			require.Contains(t, string(body), c.reason)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(string(body)), "\n")+1, "one-line reason: %q", body)
		})
	}
	require.Equal(t, 0, s.Sessions())
}

func TestServeSessionMethods(t *testing.T) {
	s, _ := newTestServer(t, nil)
	do := func(method string) *http.Response {
		req := httptest.NewRequest(method, "/live/a/whep/"+strings.Repeat("ab", 16), nil)
		rec := httptest.NewRecorder()
		s.ServeSession(rec, req, "live/a", strings.Repeat("ab", 16))
		return rec.Result()
	}
	resp := do(http.MethodPatch)
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Allow"), "DELETE")
	body, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(body), "trickle ICE")

	resp = do(http.MethodDelete)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// newTestPeer returns a pion PeerConnection with media engine me on
// loopback UDP, closed when the test ends; tweak (if set) adjusts its
// settings, opts its API (e.g. an interceptor registry).
func newTestPeer(t *testing.T, me *pion.MediaEngine, tweak func(*pion.SettingEngine), opts ...func(*pion.API)) *pion.PeerConnection {
	t.Helper()
	se := pion.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	if tweak != nil {
		tweak(&se)
	}
	opts = append(opts, pion.WithMediaEngine(me), pion.WithSettingEngine(se))
	pc, err := pion.NewAPI(opts...).NewPeerConnection(pion.Configuration{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// newClientOffer returns a real pion recvonly offer (ICE gathering done)
// from a client PeerConnection closed when the test ends.
func newClientOffer(t *testing.T) (*pion.PeerConnection, string) {
	t.Helper()
	me := &pion.MediaEngine{}
	require.NoError(t, me.RegisterDefaultCodecs())
	pc := newTestPeer(t, me, nil)
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		_, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly})
		require.NoError(t, err)
	}
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	done := pion.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-done
	return pc, pc.LocalDescription().SDP
}

// A session whose peer never connects is closed after SessionTimeout, its
// slot is freed, and no goroutine is left; the session limit answers 503.
func TestSessionTimeoutAndLimit(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, h := newTestServer(t, func(s *Server) {
		s.SessionTimeout = 300 * time.Millisecond
		s.MaxSessions = 1
	})
	publishTestStream(t, h, "live/a")

	_, offer := newClientOffer(t)
	resp := post(t, s, "live/a", "application/sdp", offer)
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)
	require.Equal(t, "application/sdp", resp.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/live/a/whep/"))
	require.Contains(t, string(body), "a=candidate:")
	require.Contains(t, string(body), "H264")
	require.Contains(t, string(body), "opus")
	require.Equal(t, 1, s.Sessions())

	_, offer2 := newClientOffer(t)
	resp = post(t, s, "live/a", "application/sdp", offer2)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	// The answer was never applied by the client: the session times out.
	require.Eventually(t, func() bool { return s.Sessions() == 0 }, 5*time.Second, 20*time.Millisecond)
}

// One client address may hold MaxSessionsPerIP sessions; the next gets 429
// while another address is still served.
func TestSessionLimitPerIP(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, h := newTestServer(t, func(s *Server) {
		s.SessionTimeout = 300 * time.Millisecond
		s.MaxSessionsPerIP = 2
	})
	publishTestStream(t, h, "live/ip")
	postFrom := func(remote string) *http.Response {
		_, offer := newClientOffer(t)
		req := httptest.NewRequest(http.MethodPost, "/live/ip/whep", strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		s.ServeWHEP(rec, req, "live/ip", auth.Grant{})
		return rec.Result()
	}
	for i, remote := range []string{"192.0.2.1:1000", "192.0.2.1:1001"} {
		require.Equal(t, http.StatusCreated, postFrom(remote).StatusCode, "session %d", i)
	}
	resp := postFrom("192.0.2.1:1002")
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Contains(t, string(body), "webrtc.max_sessions_per_ip is 2")
	require.Equal(t, http.StatusCreated, postFrom("192.0.2.2:1000").StatusCode, "another address")
	require.Equal(t, 3, s.Sessions())
	// Unconnected sessions time out and free their address's slots.
	require.Eventually(t, func() bool { return s.Sessions() == 0 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, http.StatusCreated, postFrom("192.0.2.1:1003").StatusCode, "slots freed")
}

func TestChooseH264(t *testing.T) {
	offered := []codecOffer{
		{pt: 102, fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"},
		{pt: 106, fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		{pt: 112, fmtp: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f"},
	}
	c, ok := chooseH264(offered, 0x64)
	require.True(t, ok)
	require.Equal(t, uint8(112), c.pt, "high profile stream: the offer's high profile")
	c, _ = chooseH264(offered, 0x42)
	require.Equal(t, uint8(106), c.pt, "baseline stream: 42e01f")
	c, _ = chooseH264(offered, 0x4d)
	require.Equal(t, uint8(106), c.pt, "main profile not offered: 42e01f")
	c, _ = chooseH264(offered[:1], 0x4d)
	require.Equal(t, uint8(102), c.pt)
	_, ok = chooseH264(nil, 0x42)
	require.False(t, ok)
}
