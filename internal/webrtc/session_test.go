package webrtc

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pion "github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// feedH264Opus publishes 25 fps H.264 (IDR every 10 frames) and 20 ms Opus
// packets at path until the test ends.
func feedH264Opus(t *testing.T, h *hub.Hub, path string) {
	t.Helper()
	vt, err := av.NewTrack(av.CodecH264, avcRecord(testSPS, testPPS))
	require.NoError(t, err)
	ot, err := av.NewTrack(av.CodecOpus, av.OpusHead(2))
	require.NoError(t, err)
	publishEvery(t, h, path, true, 20*time.Millisecond, func(p *hub.Publisher, i int) {
		pts := time.Duration(i) * 20 * time.Millisecond
		if i%2 == 0 {
			frame := i / 2
			nal := []byte{0x41, 0x9a, byte(frame)}
			if frame%10 == 0 {
				nal = append([]byte{0x65, 0x88}, make([]byte, 3000)...) // fragmented IDR
			}
			_ = p.WritePacket(&av.Packet{Track: vt, DTS: pts, PTS: pts, Key: frame%10 == 0, Data: avcc(nal)})
		}
		_ = p.WritePacket(&av.Packet{Track: ot, DTS: pts, PTS: pts, Key: true, Data: []byte{0xfc, 0xff, 0xfe}})
	})
}

// publishEvery publishes at path (video, and audio when withAudio): step
// writes the packets of tick i at start + i·period, until the test ends; it
// returns start. It keeps its schedule as a live encoder does: a tick
// delayed by a loaded machine is written late, with the ticks it held up
// right after it, so tick i's media time is tied to the wall clock (a
// ticker, which drops ticks, would let the media clock fall behind it).
func publishEvery(t *testing.T, h *hub.Hub, path string, withAudio bool, period time.Duration, step func(p *hub.Publisher, i int)) time.Time {
	t.Helper()
	p, err := h.Publish(path, hub.ClientInfo{Protocol: "test", Remote: "test"})
	require.NoError(t, err)
	p.Announce(true, withAudio)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		timer := time.NewTimer(0)
		defer timer.Stop()
		for i := 0; ; i++ {
			step(p, i)
			timer.Reset(time.Until(start.Add(time.Duration(i+1) * period)))
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		p.Close("test end")
	})
	return start
}

// A full session in process: real ICE/DTLS/SRTP over loopback, H.264 and
// forwarded Opus arrive, DELETE ends the session and leaves no goroutine.
func TestSessionPlaysAndDeleteEnds(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, h := newTestServer(t, nil)
	feedH264Opus(t, h, "live/o")

	pc, offer := newClientOffer(t)
	var video, audio, idrs atomic.Int64
	var readers sync.WaitGroup
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				pkt, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				if tr.Kind() == pion.RTPCodecTypeVideo {
					video.Add(1)
					if len(pkt.Payload) > 0 && pkt.Payload[0]&0x1f == nalSTAPA {
						idrs.Add(1)
					}
				} else {
					audio.Add(1)
				}
			}
		}()
	})
	t.Cleanup(func() { _ = pc.Close(); readers.Wait() })

	resp := post(t, s, "live/o", "application/sdp", offer)
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
	require.NoError(t, pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))

	require.Eventually(t, func() bool { return video.Load() > 20 && audio.Load() > 20 && idrs.Load() > 0 },
		10*time.Second, 20*time.Millisecond, "video %d (IDR %d), audio %d", video.Load(), idrs.Load(), audio.Load())

	loc := resp.Header.Get("Location")
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	req := httptest.NewRequest(http.MethodDelete, loc, nil)
	rec := httptest.NewRecorder()
	s.ServeSession(rec, req, "live/o", id)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, 0, s.Sessions())
}
