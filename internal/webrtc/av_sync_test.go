package webrtc

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

func TestNTPDuration(t *testing.T) {
	require.Equal(t, 3*time.Second+500*time.Millisecond, ntpDuration(3<<32|1<<31))
	require.Equal(t, time.Duration(3_900_000_000)*time.Second, ntpDuration(3_900_000_000<<32))
}

// toNTP is the inverse of ntpDuration.
func toNTP(d time.Duration) uint64 {
	sec := uint64(d / time.Second)
	frac := (uint64(d%time.Second) << 32) / uint64(time.Second)
	return sec<<32 | frac
}

// rtpPublisher is a pion WHIP publisher writing its own RTP (known
// timestamps and SSRCs) and its own sender reports.
type rtpPublisher struct {
	pc                     *pion.PeerConnection
	video, audio           *pion.TrackLocalStaticRTP
	videoSSRC, audioSSRC   uint32
	videoSeq, audioSeq     uint16
	videoSender, audioSend *pion.RTPSender
}

func newRTPPublisher(t *testing.T) (*rtpPublisher, string) {
	t.Helper()
	me := &pion.MediaEngine{}
	require.NoError(t, me.RegisterDefaultCodecs())
	// No interceptors: the test writes every sender report itself.
	pc := newTestPeer(t, me, nil, pion.WithInterceptorRegistry(&interceptor.Registry{}))
	p := &rtpPublisher{pc: pc}
	var err error
	p.video, err = pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "test")
	require.NoError(t, err)
	p.audio, err = pion.NewTrackLocalStaticRTP(pion.RTPCodecCapability{MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "test")
	require.NoError(t, err)
	tv, err := pc.AddTransceiverFromTrack(p.video, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly})
	require.NoError(t, err)
	ta, err := pc.AddTransceiverFromTrack(p.audio, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly})
	require.NoError(t, err)
	p.videoSender, p.audioSend = tv.Sender(), ta.Sender()
	p.videoSSRC = uint32(p.videoSender.GetParameters().Encodings[0].SSRC)
	p.audioSSRC = uint32(p.audioSend.GetParameters().Encodings[0].SSRC)
	for _, snd := range []*pion.RTPSender{p.videoSender, p.audioSend} {
		go func() { // drain the receiver's RTCP (PLIs, receiver reports)
			for {
				if _, _, err := snd.ReadRTCP(); err != nil {
					return
				}
			}
		}()
	}
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	done := pion.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-done
	return p, pc.LocalDescription().SDP
}

// writeVideo sends frame n (its index in the last two payload bytes) at
// RTP timestamp ts, an IDR with SPS/PPS when key.
func (p *rtpPublisher) writeVideo(n int, ts uint32, key bool) {
	nalu := []byte{0x41, 0x9a, byte(n >> 8), byte(n)}
	frame := annexB(nalu)
	if key {
		frame = annexB(testSPS, testPPS, append([]byte{0x65, 0x88, byte(n >> 8), byte(n)}, make([]byte, 1000)...))
	}
	pls := (&codecs.H264Payloader{}).Payload(1200, frame)
	for i, pl := range pls {
		p.videoSeq++
		_ = p.video.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: p.videoSeq, Timestamp: ts,
			Marker: i == len(pls)-1}, Payload: pl})
	}
}

// writeAudio sends Opus packet n (its index in the payload) at RTP
// timestamp ts.
func (p *rtpPublisher) writeAudio(n int, ts uint32) {
	p.audioSeq++
	_ = p.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: p.audioSeq, Timestamp: ts, Marker: true},
		Payload: []byte{0xfc, byte(n >> 8), byte(n)}})
}

func (p *rtpPublisher) senderReport(ssrc uint32, ntp time.Duration, ts uint32) {
	_ = p.pc.WriteRTCP([]rtcp.Packet{&rtcp.SenderReport{SSRC: ssrc, NTPTime: toNTP(ntp), RTPTime: ts}})
}

// A WHIP publisher whose audio starts 500 ms after its video and reaches
// the server 300 ms later than it was sampled (a buffering audio path):
// arrival-based alignment puts audio 300 ms late. Its sender reports say
// the true NTP ↔ RTP mapping of each track, and the hub's audio lands
// where they put it relative to video, within a few milliseconds.
func TestWHIPAlignsAudioByRTCPSenderReports(t *testing.T) {
	testutil.CheckGoroutines(t)
	const (
		frame      = 20 * time.Millisecond
		audioStart = 500 * time.Millisecond // audio sampled from then on
		audioDelay = 300 * time.Millisecond // and sent this much later
		run        = 3 * time.Second
	)
	s, h := newTestServer(t, nil)
	p, offer := newRTPPublisher(t)
	resp := postWHIP(s, "live/sync", offer)
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
	require.NoError(t, p.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))

	ctx, cancel := context.WithTimeout(context.Background(), run+5*time.Second)
	defer cancel()
	rd, err := h.Subscribe(ctx, "live/sync", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer rd.Close()

	// Wait for the peer to connect before the clock starts, so the first
	// packets are not lost to the handshake.
	connected := make(chan struct{})
	p.pc.OnConnectionStateChange(func(st pion.PeerConnectionState) {
		if st == pion.PeerConnectionStateConnected {
			close(connected)
		}
	})
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("publisher did not connect")
	}
	time.Sleep(200 * time.Millisecond) // let the server's DTLS side finish too

	const ntpBase = time.Duration(3_900_000_000) * time.Second // any wall clock
	const videoBase, audioBase = uint32(4_000_000_000), uint32(123_456)
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		tick := time.NewTicker(frame)
		defer tick.Stop()
		for n := 0; time.Duration(n)*frame < run; n++ {
			<-tick.C
			at := time.Duration(n) * frame // sampling time of video frame n
			vts := videoBase + uint32(n*1800)
			p.writeVideo(n, vts, n%50 == 0)
			if n%25 == 5 {
				p.senderReport(p.videoSSRC, ntpBase+at, vts)
			}
			if at < audioStart+audioDelay {
				continue
			}
			// Audio packet j, sampled at audioStart + j*frame, is sent now.
			j := int((at - audioStart - audioDelay) / frame)
			ats := audioBase + uint32(j*960)
			p.writeAudio(j, ats)
			if j%25 == 5 {
				p.senderReport(p.audioSSRC, ntpBase+audioStart+time.Duration(j)*frame, ats)
			}
		}
	}()
	defer func() { cancel(); <-sendDone }()

	video := map[int]time.Duration{} // frame index → hub DTS
	audio := map[int]time.Duration{}
	for ctx.Err() == nil {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		pkts, err := rd.Read(rctx, nil)
		rcancel()
		if err != nil {
			break
		}
		for _, pk := range pkts {
			d := pk.Data
			if pk.Kind() == av.KindVideo && len(d) >= 8 {
				video[int(binary.BigEndian.Uint16(d[6:8]))] = pk.DTS
			} else if pk.Kind() == av.KindAudio && len(d) == 3 {
				audio[int(binary.BigEndian.Uint16(d[1:3]))] = pk.DTS
			}
		}
		select {
		case <-sendDone:
			cancel()
		default:
		}
	}
	v0, ok := video[0]
	require.True(t, ok, "frame 0 (a keyframe) reached the hub; got %d video frames", len(video))
	require.Greater(t, len(audio), 50)
	// After both tracks' first reports (video's at 100 ms, audio's at
	// 900 ms of video time), every audio packet is where its report puts
	// it: audio packet j was sampled audioStart + j*frame after video
	// frame 0.
	var checked int
	var worst time.Duration
	for j, dts := range audio {
		if j < 10 {
			continue
		}
		want := v0 + audioStart + time.Duration(j)*frame
		off := dts - want
		worst = max(worst, off, -off)
		require.InDelta(t, 0, float64(off), float64(3*time.Millisecond),
			"audio packet %d at %v, sender reports put it at %v (off by %v)", j, dts, want, off)
		checked++
	}
	t.Logf("%d audio packets checked, worst %v off the sender-report position; %d video frames", checked, worst, len(video))
	require.Greater(t, checked, 40)
}
