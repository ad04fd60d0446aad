package packager

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

func TestManagerStartsOnDemandAndStopsWhenIdle(t *testing.T) {
	testutil.CheckGoroutines(t)
	h := hub.New(hub.Options{})
	defer h.Close()
	m := &Manager{Hub: h, IdleTimeout: 100 * time.Millisecond}
	defer m.Close()
	ctx := context.Background()

	_, _, err := m.Acquire(ctx, "live/none", FormatFMP4)
	require.ErrorIs(t, err, hub.ErrNotFound)

	video, audio := testTracks(t)
	pub, err := h.Publish("live/x", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	pub.Announce(true, true)
	f := &feeder{video: video, audio: audio, gop: 50}
	write := func(until time.Duration) {
		for f.vts(f.vn) < until {
			ts := f.vts(f.vn)
			require.NoError(t, pub.WritePacket(&av.Packet{Track: video, DTS: ts, PTS: ts, Key: f.vn%50 == 0, Data: frame(f.vn%50 == 0)}))
			f.vn++
		}
	}
	write(2500 * time.Millisecond) // GOP cache: keyframe at 2 s

	p, release, err := m.Acquire(ctx, "live/x", FormatFMP4)
	require.NoError(t, err)
	p2, release2 := m.Lookup("live/x", FormatFMP4)
	require.Same(t, p, p2)
	release2()
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	require.True(t, p.WaitPart(waitCtx, 0, 0), "the GOP cache gives a part at once")
	cancel()
	require.Equal(t, 2*time.Second, p.Snapshot().Segments[0].Start)

	release()
	require.Eventually(t, func() bool {
		// Not Lookup: it counts as a request and would keep it alive.
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.entries) == 0
	}, 5*time.Second, 20*time.Millisecond, "idle packager stopped")
	require.Eventually(t, p.Ended, time.Second, 10*time.Millisecond)
	pub.Close("done")
}
