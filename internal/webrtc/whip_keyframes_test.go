package webrtc

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// askedClient is a WHIP publisher that behaves like a browser's WebRTC
// encoder: it sends a keyframe only when asked (PLI or FIR), on its next
// frame, and counts the requests.
type askedClient struct {
	*whipClient
	plis, firs atomic.Int64
}

func newAskedClient(t *testing.T) (*askedClient, string) {
	t.Helper()
	c, offer := newWHIPClient(t)
	a := &askedClient{whipClient: c}
	c.onVideoRTCP(func(p rtcp.Packet) {
		switch p.(type) {
		case *rtcp.PictureLossIndication:
			a.plis.Add(1)
		case *rtcp.FullIntraRequest:
			a.firs.Add(1)
		}
	})
	return a, offer
}

// send writes 50 fps H.264 and Opus until ctx ends: P frames, and an IDR
// on the first frame after each new keyframe request.
func (a *askedClient) send(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		idr := append([]byte{0x65, 0x88, 0x84}, make([]byte, 3000)...)
		p := []byte{0x41, 0x9a, 0x02, 0x03}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var served int64
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			frame := annexB(p)
			if n := a.plis.Load() + a.firs.Load(); n > served {
				served = n
				frame = annexB(testSPS, testPPS, idr)
			}
			_ = a.video.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond})
			_ = a.audio.WriteSample(media.Sample{Data: []byte{0xfc, 0xff, 0xfe}, Duration: 20 * time.Millisecond})
		}
	}()
	return done
}

func connectWHIP(t *testing.T, s *Server, c *whipClient, path, offer string) {
	t.Helper()
	resp := postWHIP(s, path, offer)
	answer, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", answer)
	require.NoError(t, c.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(answer)}))
}

// readKeyframes reads rd until ctx ends and returns the DTS of every video
// keyframe and the number of video frames.
func readKeyframes(ctx context.Context, rd *hub.Reader) (keys []time.Duration, frames int) {
	for ctx.Err() == nil {
		pkts, err := rd.Read(ctx, nil)
		if err != nil {
			break
		}
		for _, p := range pkts {
			if p.Kind() != av.KindVideo {
				continue
			}
			frames++
			if p.Key {
				keys = append(keys, p.DTS)
			}
		}
	}
	return keys, frames
}

// A WHIP publisher that sends keyframes only when asked (Chromium's
// encoder) is asked on the segment grid: the hub's KeyframeInterval after
// each keyframe, so segments can be cut on time (with one keyframe per
// session, HLS segments grew to 10 s and dash.js never played). FIR goes
// along with PLI since the publisher negotiated "ccm fir".
func TestWHIPPublisherAskedForKeyframesOnTheSegmentGrid(t *testing.T) {
	testutil.CheckGoroutines(t)
	const interval = 1500 * time.Millisecond
	s, h := newTestServerWith(t, hub.Options{KeyframeInterval: interval}, nil)
	c, offer := newAskedClient(t)
	connectWHIP(t, s, c.whipClient, "live/grid", offer)
	ctx, cancel := context.WithCancel(context.Background())
	sendDone := c.send(ctx)
	defer func() { cancel(); <-sendDone }()

	rd, err := h.Subscribe(ctx, "live/grid", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer rd.Close()
	rctx, rcancel := context.WithTimeout(ctx, 3*interval+time.Second)
	keys, frames := readKeyframes(rctx, rd)
	rcancel()
	t.Logf("%d frames, keyframes at %v; %d PLIs, %d FIRs", frames, keys, c.plis.Load(), c.firs.Load())
	require.GreaterOrEqual(t, len(keys), 3, "a keyframe at least every %v (the first one and then on the grid)", interval)
	for i := 1; i < len(keys); i++ {
		gap := keys[i] - keys[i-1]
		require.GreaterOrEqual(t, gap, interval, "keyframe %d: asked before the interval had passed", i)
		require.LessOrEqual(t, gap, interval+500*time.Millisecond, "keyframe %d: %v after the previous one", i, gap)
	}
	require.Positive(t, c.firs.Load(), "FIR was negotiated: it goes with the PLI")
}

// A reader that cannot use the cached GOP (its keyframe is older than
// MaxGOPDuration) starts at a fresh keyframe the publisher is asked for at
// once, not with the publisher's whole backlog since its first keyframe.
func TestWHIPReaderJoiningLateGetsAFreshKeyframe(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, h := newTestServerWith(t, hub.Options{MaxGOPDuration: 500 * time.Millisecond}, nil)
	c, offer := newAskedClient(t)
	connectWHIP(t, s, c.whipClient, "live/late", offer)
	ctx, cancel := context.WithCancel(context.Background())
	sendDone := c.send(ctx)
	defer func() { cancel(); <-sendDone }()

	// The first keyframe (asked for at the start), then 2 s of P frames.
	first, err := h.Subscribe(ctx, "live/late", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	fctx, fcancel := context.WithTimeout(ctx, 2*time.Second+2*pliInterval)
	keys, _ := readKeyframes(fctx, first)
	fcancel()
	first.Close()
	require.Len(t, keys, 1, "one keyframe while nobody asks")
	plis := c.plis.Load()

	joined := time.Now()
	late, err := h.Subscribe(ctx, "live/late", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer late.Close()
	lctx, lcancel := context.WithTimeout(ctx, 3*time.Second)
	defer lcancel()
	pkts, err := late.Read(lctx, nil)
	require.NoError(t, err)
	wait := time.Since(joined)
	require.True(t, pkts[0].Key, "the late reader starts at a keyframe")
	require.Greater(t, pkts[0].DTS, keys[0]+2*time.Second, "a fresh keyframe, not the one at %v", keys[0])
	var videoBacklog int
	for _, p := range pkts {
		if p.Kind() == av.KindVideo {
			videoBacklog++
		}
	}
	require.Less(t, videoBacklog, 10, "no backlog")
	require.Greater(t, c.plis.Load(), plis, "the publisher was asked for the keyframe")
	t.Logf("late reader got its keyframe %v after joining", wait)
}
