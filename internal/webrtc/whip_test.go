package webrtc

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// whipClient is a pion publisher: H.264 and Opus sample tracks, sendonly.
type whipClient struct {
	pc           *pion.PeerConnection
	video, audio *pion.TrackLocalStaticSample
}

func newWHIPClient(t *testing.T) (*whipClient, string) {
	t.Helper()
	return newWHIPClientWith(t, pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"})
}

// newWHIPClientWith is newWHIPClient with the video codec video. A client
// for H.264 offers every codec pion knows (as browsers do); one for
// another codec offers only it, as an encoder set to that codec does.
func newWHIPClientWith(t *testing.T, video pion.RTPCodecCapability) (*whipClient, string) {
	t.Helper()
	me := &pion.MediaEngine{}
	if video.MimeType == pion.MimeTypeH264 {
		require.NoError(t, me.RegisterDefaultCodecs())
	} else {
		require.NoError(t, me.RegisterCodec(pion.RTPCodecParameters{RTPCodecCapability: video, PayloadType: 96}, pion.RTPCodecTypeVideo))
		require.NoError(t, me.RegisterCodec(pion.RTPCodecParameters{
			RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111,
		}, pion.RTPCodecTypeAudio))
	}
	pc := newTestPeer(t, me, nil)
	c := &whipClient{pc: pc}
	var err error
	c.video, err = pion.NewTrackLocalStaticSample(video, "video", "test")
	require.NoError(t, err)
	c.audio, err = pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "test")
	require.NoError(t, err)
	for _, tr := range []pion.TrackLocal{c.video, c.audio} {
		_, err := pc.AddTransceiverFromTrack(tr, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly})
		require.NoError(t, err)
	}
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	done := pion.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-done
	return c, pc.LocalDescription().SDP
}

// onVideoRTCP calls f, from a goroutine of its own, with every RTCP
// packet the server sends about the video track (keyframe requests,
// receiver reports) until the peer connection closes.
func (c *whipClient) onVideoRTCP(f func(rtcp.Packet)) {
	for _, snd := range c.pc.GetSenders() {
		if snd.Track() == nil || snd.Track().Kind() != pion.RTPCodecTypeVideo {
			continue
		}
		go func() {
			for {
				pkts, _, err := snd.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					f(p)
				}
			}
		}()
	}
}

// send writes 50 fps H.264 (an IDR every 25 frames, the first at frame
// 5) and Opus until ctx ends; the returned channel closes then.
func (c *whipClient) send(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		idr := append([]byte{0x65, 0x88, 0x84}, make([]byte, 3000)...) // FU-A on the wire
		p := []byte{0x41, 0x9a, 0x02, 0x03}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			frame := annexB(p)
			if i%25 == 5 { // the first frames are P: they must be skipped
				frame = annexB(testSPS, testPPS, idr)
			}
			_ = c.video.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond})
			_ = c.audio.WriteSample(media.Sample{Data: []byte{0xfc, 0xff, 0xfe}, Duration: 20 * time.Millisecond})
		}
	}()
	return done
}

func postWHIP(s *Server, path, body string) *http.Response {
	req := httptest.NewRequest(http.MethodPost, "/"+path+"/whip", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/sdp")
	rec := httptest.NewRecorder()
	s.ServeWHIP(rec, req, path, auth.Grant{})
	return rec.Result()
}

// annexB joins NAL units with start codes.
func annexB(nalus ...[]byte) []byte {
	var b []byte
	for _, n := range nalus {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

// A pion WHIP client publishes H.264 and Opus: the hub stream gets AVCC
// video with the in-band SPS/PPS as its track, starting at a keyframe, and
// Opus audio; a second publisher gets 409; DELETE ends the session and
// frees the path; nothing leaks.
func TestWHIPPublishesIntoHub(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, h := newTestServer(t, nil)

	c, offer := newWHIPClient(t)
	resp := postWHIP(s, "live/in", offer)
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
	require.Equal(t, "application/sdp", resp.Header.Get("Content-Type"))
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "/live/in/whip/"), loc)
	require.Contains(t, string(answer), "a=candidate:")
	require.Contains(t, string(answer), "a=recvonly")
	require.NoError(t, c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))
	require.Equal(t, SessionCounts{WHIP: 1}, s.Counts())

	// A second publisher on the busy path: 409, the first keeps going.
	_, offer2 := newWHIPClient(t)
	resp = postWHIP(s, "live/in", offer2)
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusConflict, resp.StatusCode, "%s", body)
	require.Equal(t, 1, s.Sessions())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sendDone := c.send(ctx)

	rd, err := h.Subscribe(ctx, "live/in", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	var video, audio []*av.Packet
	deadline := time.Now().Add(10 * time.Second)
	for (len(video) < 20 || len(audio) < 20) && time.Now().Before(deadline) {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		pkts, _ := rd.Read(rctx, nil)
		rcancel()
		for _, p := range pkts {
			if p.Kind() == av.KindVideo {
				video = append(video, p)
			} else {
				audio = append(audio, p)
			}
		}
	}
	rd.Close()
	require.GreaterOrEqual(t, len(video), 20)
	require.GreaterOrEqual(t, len(audio), 20)
	require.True(t, video[0].Key, "starts at a keyframe")
	require.Equal(t, av.CodecH264, video[0].Track.Codec)
	require.Equal(t, 320, video[0].Track.Width)
	require.Equal(t, avcRecord(testSPS, testPPS), video[0].Track.Config)
	require.Equal(t, append([]byte{0, 0, 0x0b, 0xbb}, append([]byte{0x65, 0x88, 0x84}, make([]byte, 3000)...)...), video[0].Data,
		"IDR reassembled from FU-A, SPS/PPS moved to the track")
	require.Equal(t, []byte{0, 0, 0, 4, 0x41, 0x9a, 0x02, 0x03}, video[1].Data)
	d := video[10].PTS - video[9].PTS
	require.InDelta(t, float64(20*time.Millisecond), float64(d), float64(2*time.Millisecond), "PTS from 90 kHz RTP timestamps")
	require.Equal(t, av.CodecOpus, audio[0].Track.Codec)
	require.Equal(t, []byte{0xfc, 0xff, 0xfe}, audio[0].Data)

	// DELETE ends the session; the path is free again.
	id := strings.TrimPrefix(loc, "/live/in/whip/")
	rec := httptest.NewRecorder()
	s.ServeWHIPSession(rec, httptest.NewRequest(http.MethodDelete, loc, nil), "live/in", id)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, SessionCounts{}, s.Counts())
	require.Equal(t, 0, s.Sessions())
	rec = httptest.NewRecorder()
	s.ServeWHIPSession(rec, httptest.NewRequest(http.MethodDelete, loc, nil), "live/in", id)
	require.Equal(t, http.StatusNotFound, rec.Code)
	cancel()
	<-sendDone

	c3, offer3 := newWHIPClient(t)
	resp = postWHIP(s, "live/in", offer3)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	_ = c3.pc.Close()
}

func TestServeWHIPRefusesBadOffers(t *testing.T) {
	s, _ := newTestServer(t, nil)
	send := func(codecs string) string {
		return testSessionHead + testFingerprint + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=setup:actpass\r\na=rtcp-mux\r\na=sendonly\r\n" + testICE + codecs
	}
	cases := []struct {
		name, ctype, body string
		code              int
		reason            string
	}{
		{"wrong content type", "text/plain", send(h264Mode1Lines), http.StatusUnsupportedMediaType, "application/sdp"},
		{"not SDP", "application/sdp", "hello", http.StatusBadRequest, "malformed SDP"},
		{"recvonly only", "application/sdp", testSessionHead + testFingerprint + videoSection(testICE+h264Mode1Lines), http.StatusBadRequest, "client sends on"},
		{"VP8 only", "application/sdp", send("a=rtpmap:96 VP8/90000\r\n"), http.StatusBadRequest, "no H.264"},
		{"no fingerprint", "application/sdp", testSessionHead + strings.TrimPrefix(send(h264Mode1Lines), testSessionHead+testFingerprint), http.StatusBadRequest, "fingerprint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/live/a/whip", strings.NewReader(c.body))
			req.Header.Set("Content-Type", c.ctype)
			rec := httptest.NewRecorder()
			s.ServeWHIP(rec, req, "live/a", auth.Grant{})
			require.Equal(t, c.code, rec.Code, "%s", rec.Body)
			require.Contains(t, rec.Body.String(), c.reason)
		})
	}
	rec := httptest.NewRecorder()
	s.ServeWHIPSession(rec, httptest.NewRequest(http.MethodPatch, "/live/a/whip/x", nil), "live/a", "x")
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, 0, s.Sessions())
	require.Nil(t, s.Hub.Stream("live/a"), "no stream for a refused publisher")
}

// endedRecorder records the grants ended by the server.
type endedRecorder struct {
	mu    sync.Mutex
	ended []auth.Request
}

func (e *endedRecorder) grant(req auth.Request) auth.Grant {
	return auth.NewGrant(req, func(r auth.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.ended = append(e.ended, r)
	})
}

func (e *endedRecorder) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.ended)
}

// A WHIP or WHEP session ends the grant the router authorized it with
// once, when it closes (on_unpublish / on_stop); a refused POST ends it at
// once. (The access decision itself is the router's: internal/app.)
func TestWHIPAndWHEPEndTheirGrant(t *testing.T) {
	var rec endedRecorder
	s, h := newTestServer(t, func(s *Server) { s.SessionTimeout = 500 * time.Millisecond })
	publishTestStream(t, h, "live/a")
	pubReq := auth.Request{Action: auth.Publish, Path: "live/x", Protocol: "whip", Token: "pub"}
	viewReq := auth.Request{Action: auth.Play, Path: "live/a", Protocol: "whep", Token: "view"}
	do := func(kind, body string, req auth.Request) *httptest.ResponseRecorder {
		hreq := httptest.NewRequest(http.MethodPost, "/"+req.Path+"/"+kind, strings.NewReader(body))
		hreq.Header.Set("Content-Type", "application/sdp")
		w := httptest.NewRecorder()
		if kind == "whip" {
			s.ServeWHIP(w, hreq, req.Path, rec.grant(req))
		} else {
			s.ServeWHEP(w, hreq, req.Path, rec.grant(req))
		}
		return w
	}
	require.Equal(t, http.StatusBadRequest, do("whip", "not sdp", pubReq).Code)
	require.Equal(t, 1, rec.count(), "a refused offer ends its grant")

	c, offer := newWHIPClient(t)
	w := do("whip", offer, pubReq)
	require.Equal(t, http.StatusCreated, w.Code, "%s", w.Body)
	_ = c.pc.Close()
	require.Eventually(t, func() bool { return rec.count() == 2 && s.Sessions() == 0 }, 10*time.Second, 20*time.Millisecond)

	_, offer = newClientOffer(t)
	w = do("whep", offer, viewReq)
	require.Equal(t, http.StatusCreated, w.Code, "%s", w.Body)
	// RFC 9725 §4.3: an ETag for the ICE session; no Accept-Patch, since
	// PATCH (trickle, ICE restart) is not taken.
	loc := w.Header().Get("Location")
	require.Equal(t, `"`+loc[strings.LastIndexByte(loc, '/')+1:]+`"`, w.Header().Get("ETag"))
	require.Regexp(t, `^"[0-9a-f]{32}"$`, w.Header().Get("ETag"))
	require.Empty(t, w.Header().Get("Accept-Patch"))
	require.Equal(t, SessionCounts{WHEP: 1}, s.Counts())
	require.NoError(t, s.Close())
	require.Equal(t, 3, rec.count())
	require.Equal(t, viewReq, rec.ended[2])
}

// A WHEP viewer's keyframe request (PLI) reaches the WHIP publisher of the
// stream, so a viewer whose decoder lost its reference recovers at once
// instead of waiting for the next scheduled keyframe.
func TestWHEPViewerPLIReachesWHIPPublisher(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, _ := newTestServer(t, nil)
	c, offer := newWHIPClient(t)
	var mu sync.Mutex
	var plis []time.Time
	c.onVideoRTCP(func(p rtcp.Packet) {
		if _, ok := p.(*rtcp.PictureLossIndication); ok {
			mu.Lock()
			plis = append(plis, time.Now())
			mu.Unlock()
		}
	})
	resp := postWHIP(s, "live/pli", offer)
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
	require.NoError(t, c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))
	ctx, cancel := context.WithCancel(context.Background())
	sendDone := c.send(ctx)
	defer func() { cancel(); <-sendDone }()

	viewer, voffer := newClientOffer(t)
	ssrc := make(chan uint32, 2)
	viewer.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		if tr.Kind() == pion.RTPCodecTypeVideo {
			ssrc <- uint32(tr.SSRC())
		}
		go func() {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
			}
		}()
	})
	resp = post(t, s, "live/pli", "application/sdp", voffer)
	vanswer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", vanswer)
	require.NoError(t, viewer.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(vanswer)}))
	var videoSSRC uint32
	select {
	case videoSSRC = <-ssrc:
	case <-time.After(10 * time.Second):
		t.Fatal("the WHEP viewer got no video")
	}

	// Let the PLIs of the start (track started, viewer joined) pass and
	// the rate limit expire, then the viewer asks.
	quietSince := func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		if len(plis) == 0 {
			return time.Hour
		}
		return time.Since(plis[len(plis)-1])
	}
	require.Eventually(t, func() bool { return quietSince() > 2*pliInterval }, 10*time.Second, 20*time.Millisecond)
	asked := time.Now()
	require.NoError(t, viewer.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: videoSSRC}}))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(plis) > 0 && plis[len(plis)-1].After(asked)
	}, 2*time.Second, 10*time.Millisecond, "the publisher got the viewer's PLI")
	mu.Lock()
	t.Logf("PLI at the publisher %v after the viewer's", plis[len(plis)-1].Sub(asked))
	mu.Unlock()
}
