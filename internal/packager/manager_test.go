package packager

import (
	"context"
	"log/slog"
	"strings"
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

// TestManagerRestartsFailedPackager: a packager that fails while its
// stream is live (here a sequence header it cannot serialize) is
// restarted and continues its session with a discontinuity; old main
// ended it, and every polling player got EXT-X-ENDLIST from a live stream.
func TestManagerRestartsFailedPackager(t *testing.T) {
	testutil.CheckGoroutines(t)
	h := hub.New(hub.Options{})
	defer h.Close()
	var logs testutil.SyncBuffer
	m := &Manager{Hub: h, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	defer m.Close()
	ctx := context.Background()

	video, _ := testTracks(t)
	// An avcC without SPS/PPS: the packager cannot write its init section.
	broken := &av.Track{Codec: av.CodecH264, Config: []byte{1, 0x64, 0, 0x1f, 0xff, 0xe0, 0}}
	pub, err := h.Publish("live/r", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer pub.Close("done")
	pub.Announce(true, false)
	n := 0
	write := func(tr *av.Track, until time.Duration) {
		for ; time.Duration(n)*40*time.Millisecond < until; n++ {
			ts := time.Duration(n) * 40 * time.Millisecond
			key := n%50 == 0 || tr != video && n%50 == 1
			require.NoError(t, pub.WritePacket(&av.Packet{Track: tr, DTS: ts, PTS: ts, Key: key, Data: frame(key)}))
		}
	}
	write(video, 2500*time.Millisecond)
	p, release, err := m.Acquire(ctx, "live/r", FormatFMP4)
	require.NoError(t, err)
	defer release()
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	require.True(t, p.WaitPart(waitCtx, 0, 0))
	cancel()

	write(broken, 4100*time.Millisecond) // from frame 63, a keyframe at 64
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "packager restarting") || p.Ended() },
		5*time.Second, 10*time.Millisecond)
	require.False(t, p.Ended(), "a failure while the stream is live must not end the playlist: %v", p.Err())
	write(video, 12*time.Second)

	require.Eventually(t, func() bool {
		segs := p.Snapshot().Segments
		last := segs[len(segs)-1]
		return p.Ended() || last.Start >= 6*time.Second && len(last.Parts) > 0
	}, 10*time.Second, 10*time.Millisecond, "media after the restart")
	require.False(t, p.Ended(), "a failure while the stream is live must not end the playlist: %v", p.Err())
	snap := p.Snapshot()
	require.Equal(t, uint64(0), snap.Segments[0].MSN, "the same session and window go on")
	var disc bool
	for _, s := range snap.Segments {
		disc = disc || s.Discontinuity
	}
	require.True(t, disc, "the restart is a discontinuity")
	p2, release2 := m.Lookup("live/r", FormatFMP4)
	require.Same(t, p, p2)
	release2()
}

// An ended stream's packager is dropped EndLinger after the end, with its
// window, even while players keep polling it (each request would restart
// the idle timeout).
func TestManagerDropsEndedPackagerWhilePolled(t *testing.T) {
	testutil.CheckGoroutines(t)
	h := hub.New(hub.Options{})
	defer h.Close()
	m := &Manager{Hub: h, IdleTimeout: time.Minute, EndLinger: 300 * time.Millisecond}
	defer m.Close()
	ctx := context.Background()
	video, _ := testTracks(t)
	pub, err := h.Publish("live/x", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	pub.Announce(true, false)
	for n := range 75 {
		ts := time.Duration(n) * 40 * time.Millisecond
		require.NoError(t, pub.WritePacket(&av.Packet{Track: video, DTS: ts, PTS: ts, Key: n%50 == 0, Data: frame(n%50 == 0)}))
	}
	p, release, err := m.Acquire(ctx, "live/x", FormatFMP4)
	require.NoError(t, err)
	release()
	pub.Kick("test over")
	require.Eventually(t, p.Ended, 5*time.Second, 10*time.Millisecond)
	ended := time.Now()
	for {
		q, rel := m.Lookup("live/x", FormatFMP4) // a polling player
		if q == nil {
			break
		}
		require.Same(t, p, q)
		require.Less(t, time.Since(ended), 5*time.Second, "the ended packager is still served (EndLinger 300ms)")
		rel()
		time.Sleep(20 * time.Millisecond)
	}
	require.GreaterOrEqual(t, time.Since(ended), 250*time.Millisecond, "dropped before its linger")
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Empty(t, m.entries)
}
