package webrtc

import (
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// lossyConn is the viewer's UDP socket losing the first copy of every
// 15th video RTP packet on the way in, as a network would: below SRTP, so
// the retransmission is not taken for a replay.
type lossyConn struct {
	net.PacketConn
	videoPT atomic.Int32 // -1 until known

	mu      sync.Mutex
	dropped map[uint16]bool // seq → retransmission seen
}

func (c *lossyConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || n < 12 || b[0]>>6 != 2 || int32(b[1]&0x7f) != c.videoPT.Load() {
			return n, addr, err // not video RTP (STUN, DTLS, RTCP, audio)
		}
		seq := binary.BigEndian.Uint16(b[2:4])
		c.mu.Lock()
		seen, was := c.dropped[seq]
		drop := !was && seq%15 == 0
		if drop {
			c.dropped[seq] = false
		} else if was && !seen {
			c.dropped[seq] = true // the retransmission
		}
		c.mu.Unlock()
		if !drop {
			return n, addr, nil
		}
	}
}

func (c *lossyConn) counts() (dropped, recovered int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ok := range c.dropped {
		dropped++
		if ok {
			recovered++
		}
	}
	return dropped, recovered
}

// A viewer that loses packets gets them again: its NACKs are answered from
// the server's send history (RFC 4585 generic NACK, retransmitted on the
// same SSRC since no RTX is negotiated); and the server sends RTCP sender
// reports on both tracks whose RTP clock advances with the wall clock.
func TestNACKRetransmitsAndSenderReports(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, h := newTestServer(t, nil)
	feedH264Opus(t, h, "live/n")

	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	lossy := &lossyConn{PacketConn: udp, dropped: map[uint16]bool{}}
	lossy.videoPT.Store(-1)
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: lossy})
	t.Cleanup(func() { _ = mux.Close() })
	me := &pion.MediaEngine{}
	require.NoError(t, me.RegisterDefaultCodecs())
	ir := &interceptor.Registry{}
	require.NoError(t, pion.ConfigureNack(me, ir))
	pc := newTestPeer(t, me, func(se *pion.SettingEngine) { se.SetICEUDPMux(mux) }, pion.WithInterceptorRegistry(ir))
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		_, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly})
		require.NoError(t, err)
	}

	type report struct {
		ntp  time.Time
		rtp  uint32
		kind pion.RTPCodecType
	}
	var mu sync.Mutex
	var reports []report
	var readers sync.WaitGroup
	pc.OnTrack(func(tr *pion.TrackRemote, rcv *pion.RTPReceiver) {
		readers.Add(2)
		go func() { // media: drain
			defer readers.Done()
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
			}
		}()
		go func() { // RTCP from the server
			defer readers.Done()
			for {
				pkts, _, err := rcv.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if sr, ok := p.(*rtcp.SenderReport); ok {
						mu.Lock()
						reports = append(reports, report{ntp: ntpTime(sr.NTPTime), rtp: sr.RTPTime, kind: tr.Kind()})
						mu.Unlock()
					}
				}
			}
		}()
	})
	t.Cleanup(func() { _ = pc.Close(); readers.Wait() })

	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := pion.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	resp := post(t, s, "live/n", "application/sdp", pc.LocalDescription().SDP)
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
	require.NoError(t, pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))
	m := regexp.MustCompile(`m=video \d+ \S+ (\d+)`).FindSubmatch(answer)
	require.NotNil(t, m, "video section in the answer:\n%s", answer)
	pt, _ := strconv.Atoi(string(m[1]))
	lossy.videoPT.Store(int32(pt))

	srOf := func(kind pion.RTPCodecType) []report {
		mu.Lock()
		defer mu.Unlock()
		var out []report
		for _, r := range reports {
			if r.kind == kind {
				out = append(out, r)
			}
		}
		return out
	}
	var dropped, recovered int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		dropped, recovered = lossy.counts()
		if dropped >= 10 && recovered >= dropped-2 && len(srOf(pion.RTPCodecTypeVideo)) >= 2 && len(srOf(pion.RTPCodecTypeAudio)) >= 2 {
			break
		}
	}
	require.GreaterOrEqual(t, dropped, 10, "video packets the client lost")
	require.GreaterOrEqual(t, recovered, dropped-2, "lost packets retransmitted after NACK (the last ones may be in flight)")
	require.GreaterOrEqual(t, len(srOf(pion.RTPCodecTypeVideo)), 2, "video sender reports")
	require.GreaterOrEqual(t, len(srOf(pion.RTPCodecTypeAudio)), 2, "audio sender reports")
	t.Logf("video packets lost %d, retransmitted after NACK %d", dropped, recovered)

	// Each track's reports map its RTP clock onto the wall clock at its
	// rate (90 kHz video, 48 kHz Opus), within a few milliseconds.
	for kind, rate := range map[pion.RTPCodecType]float64{pion.RTPCodecTypeVideo: 90000, pion.RTPCodecTypeAudio: 48000} {
		srs := srOf(kind)
		a, b := srs[0], srs[len(srs)-1]
		wall := b.ntp.Sub(a.ntp).Seconds()
		media := float64(b.rtp-a.rtp) / rate
		t.Logf("%s sender reports: %d, %.3f s of wall clock ↔ %.3f s of RTP clock", kind, len(srs), wall, media)
		require.Greater(t, wall, 0.5)
		require.InDelta(t, wall, media, 0.05, "%s RTP clock must follow the wall clock between sender reports", kind)
	}
}

// ntpTime converts a 64-bit NTP timestamp (RFC 3550 §4) to a time.
func ntpTime(v uint64) time.Time {
	const ntpEpochOffset = 2208988800 // 1900 → 1970
	sec := int64(v>>32) - ntpEpochOffset
	frac := float64(v&0xffffffff) / (1 << 32)
	return time.Unix(sec, int64(frac*1e9))
}
