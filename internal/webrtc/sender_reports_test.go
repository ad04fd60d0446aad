package webrtc

import (
	"encoding/binary"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// A WHEP viewer's sender reports put both tracks on one wall clock, the
// one the media was live on, however late each track reaches the server:
// here Opus enters the hub 240 ms after the video sampled with it, as the
// Opus derived from an AAC stream comes out of ffmpeg. The viewer's lip
// sync (RFC 3550 §6.4.1: the RTP ↔ NTP pair of each SR) must not follow
// that delay: audio and video sampled at the same instant map to the same
// NTP time, within a few milliseconds.
func TestWHEPSenderReportsShareOneClock(t *testing.T) {
	testutil.CheckGoroutines(t)
	const audioLate = 240 * time.Millisecond
	s, h := newTestServer(t, nil)
	vt, err := av.NewTrack(av.CodecH264, avcRecord(testSPS, testPPS))
	require.NoError(t, err)
	ot, err := av.NewTrack(av.CodecOpus, av.OpusHead(2))
	require.NoError(t, err)
	// Tick i (every 20 ms) samples media time i·20 ms: a 25 fps frame
	// every other tick (IDR every 10), its number in its last two bytes;
	// an Opus packet, its number in its payload, written 12 ticks later.
	lateTicks := int(audioLate / (20 * time.Millisecond))
	start := publishEvery(t, h, "live/sr", true, 20*time.Millisecond, func(p *hub.Publisher, i int) {
		if i%2 == 0 {
			n := i / 2
			nal := []byte{0x41, 0x9a, byte(n >> 8), byte(n)}
			if n%10 == 0 {
				nal = append([]byte{0x65, 0x88, byte(n >> 8), byte(n)}, make([]byte, 3000)...)
			}
			pts := time.Duration(i) * 20 * time.Millisecond
			_ = p.WritePacket(&av.Packet{Track: vt, DTS: pts, PTS: pts, Key: n%10 == 0, Data: avcc(nal)})
		}
		if n := i - lateTicks; n >= 0 {
			pts := time.Duration(n) * 20 * time.Millisecond
			_ = p.WritePacket(&av.Packet{Track: ot, DTS: pts, PTS: pts, Key: true, Data: []byte{0xfc, byte(n >> 8), byte(n)}})
		}
	})

	// What the viewer learns per track: the RTP timestamp of media time 0
	// (from a packet whose number it can read) and the sender reports.
	type track struct {
		rate    int64
		step    time.Duration // media time per packet number
		base    uint32
		hasBase bool
		srs     []*rtcp.SenderReport
	}
	var mu sync.Mutex
	tracks := map[pion.RTPCodecType]*track{
		pion.RTPCodecTypeVideo: {rate: 90000, step: 40 * time.Millisecond},
		pion.RTPCodecTypeAudio: {rate: 48000, step: 20 * time.Millisecond},
	}
	pc, offer := newClientOffer(t)
	var readers sync.WaitGroup
	pc.OnTrack(func(tr *pion.TrackRemote, rcv *pion.RTPReceiver) {
		k := tracks[tr.Kind()]
		readers.Add(2)
		go func() {
			defer readers.Done()
			for {
				pkt, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				pl := pkt.Payload
				// A single-NAL non-IDR frame (4 bytes), or an Opus packet.
				numbered := (tr.Kind() == pion.RTPCodecTypeVideo && len(pl) == 4 && pl[0] == 0x41) ||
					(tr.Kind() == pion.RTPCodecTypeAudio && len(pl) == 3)
				if numbered {
					n := int(binary.BigEndian.Uint16(pl[len(pl)-2:]))
					mu.Lock()
					k.base, k.hasBase = pkt.Timestamp-rtpTime(time.Duration(n)*k.step, k.rate), true
					mu.Unlock()
				}
			}
		}()
		go func() {
			defer readers.Done()
			for {
				pkts, _, err := rcv.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if sr, ok := p.(*rtcp.SenderReport); ok {
						mu.Lock()
						k.srs = append(k.srs, sr)
						mu.Unlock()
					}
				}
			}
		}()
	})
	t.Cleanup(func() { _ = pc.Close(); readers.Wait() })
	resp := post(t, s, "live/sr", "application/sdp", offer)
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
	require.NoError(t, pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))

	ready := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, k := range tracks {
			if !k.hasBase || len(k.srs) < 3 {
				return false
			}
		}
		return true
	}
	require.Eventually(t, ready, 15*time.Second, 20*time.Millisecond, "RTP of both tracks and 3 sender reports each")

	// Each report says: media time m (its RTP time less the track's base)
	// was live at its NTP time, so media time 0 was live at NTP − m.
	mu.Lock()
	defer mu.Unlock()
	zero := map[pion.RTPCodecType]time.Time{}
	for kind, k := range tracks {
		for _, sr := range k.srs[1:] { // the first may precede the live edge
			ticks := int64(int32(sr.RTPTime - k.base))
			m := time.Duration(ticks * int64(time.Second) / k.rate)
			z := ntpTime(sr.NTPTime).Add(-m)
			t.Logf("%s SR: media %v at NTP %s → media 0 at %+v after the feed started",
				kind, m.Round(time.Millisecond), ntpTime(sr.NTPTime).Format("15:04:05.000"), z.Sub(start).Round(time.Millisecond))
			// It was sampled (published) then; it can only have reached
			// the server later, by the feed's lateness on a loaded box.
			require.GreaterOrEqual(t, z.Sub(start), -10*time.Millisecond, "%s report puts media before it was sampled", kind)
			require.Less(t, z.Sub(start), 150*time.Millisecond, "%s report lags the wall clock the media was sampled on", kind)
			zero[kind] = z
		}
	}
	skew := zero[pion.RTPCodecTypeAudio].Sub(zero[pion.RTPCodecTypeVideo])
	require.InDelta(t, 0, skew.Seconds(), 0.010,
		"audio and video sampled together must map to one NTP time (audio entered the server %v late); skew %v", audioLate, skew)
}

// The live clock keeps the packets that arrived on time: lateness of up
// to 450 ms on most packets (a loaded server, a late track) does not move
// it; a lasting shift (a republish gap, clock drift) moves it within a
// window; and a session that sent nothing for a window starts afresh.
func TestLiveClockKeepsTheOnTimePackets(t *testing.T) {
	t0 := time.Now()
	var c liveClock
	_, ok := c.zero()
	require.False(t, ok, "no estimate before the first packet")
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	// 10 s of 20 ms packets; each sent at its arrival, every 7th on time
	// and the others late by up to 450 ms.
	var dts time.Duration
	for ; dts < 10*time.Second; dts += 20 * time.Millisecond {
		late := time.Duration(int64(dts/(20*time.Millisecond))%7) * 75 * time.Millisecond
		c.observe(at(dts+late), at(dts+late), dts)
		z, ok := c.zero()
		require.True(t, ok)
		if dts >= 7*20*time.Millisecond {
			require.Equal(t, t0, z, "after %v: late packets moved the clock", dts)
		}
	}
	// From now on everything is 300 ms later than before.
	shift := 300 * time.Millisecond
	var movedAfter time.Duration
	for end := dts + 10*time.Second; dts < end; dts += 20 * time.Millisecond {
		c.observe(at(dts+shift), at(dts+shift), dts)
		if z, _ := c.zero(); z.Equal(t0.Add(shift)) && movedAfter == 0 {
			movedAfter = dts - (end - 10*time.Second)
		}
	}
	require.NotZero(t, movedAfter, "a lasting 300 ms shift must move the clock")
	require.LessOrEqual(t, movedAfter, liveBuckets*liveBucket, "the clock follows a lasting shift within its window")
	// Nothing sent for a window: the first packet after sets the clock.
	dts += 5 * time.Second
	c.observe(at(dts+time.Hour), at(dts+time.Hour), dts)
	z, _ := c.zero()
	require.Equal(t, t0.Add(time.Hour), z)
}

// Reports of both tracks come from the one clock: RTP times for the same
// instant are the tracks' bases plus the same stream time, and counts are
// the packets and octets sent.
func TestSenderReportsOfBothTracksShareTheClock(t *testing.T) {
	var r senderReports
	require.Empty(t, r.reports(time.Now()), "no report before any packet")
	r.setTrack(syncVideo, 11, videoRate, 1000)
	r.setTrack(syncAudio, 22, opusRate, 5)
	t0 := time.Now().Add(-10 * time.Second)
	vt := &av.Track{Codec: av.CodecH264}
	// Video on time; audio arrives 300 ms late.
	r.sent(syncVideo, &av.Packet{Track: vt, DTS: 2 * time.Second, Arrival: t0.Add(2 * time.Second)}, 3, 3000)
	r.sent(syncAudio, &av.Packet{DTS: 2 * time.Second, Arrival: t0.Add(2300 * time.Millisecond)}, 1, 100)
	now := t0.Add(3 * time.Second)
	srs := r.reports(now)
	require.Len(t, srs, 2)
	require.Equal(t, &rtcp.SenderReport{SSRC: 11, NTPTime: ntpTimestamp(now), RTPTime: 1000 + 3*90000, PacketCount: 3, OctetCount: 3000}, srs[0])
	require.Equal(t, &rtcp.SenderReport{SSRC: 22, NTPTime: ntpTimestamp(now), RTPTime: 5 + 3*48000, PacketCount: 1, OctetCount: 100}, srs[1])
	require.InDelta(t, now.UnixNano(), ntpTime(ntpTimestamp(now)).UnixNano(), 1000, "NTP time round trip, ns")
}
