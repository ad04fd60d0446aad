package transcode

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestEnsureWithoutStream: Ensure starts nothing for a path without a
// stream, without a ladder, or for a rendition; Touch never starts one.
func TestEnsureWithoutStream(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Options{Logger: quiet})
	defer h.Close()
	m := New(Options{Hub: h, Ladder: func(p string) []Rung {
		if p == "live/src" {
			return ladder
		}
		return nil
	}, OnDemand: func(string) bool { return true }, Logger: quiet})
	defer m.Close()
	require.False(t, m.Ensure("live/src"), "no stream yet")
	pub, err := h.Publish("live/other", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer pub.Close("done")
	require.False(t, m.Ensure("live/other"), "no ladder")
	m.Touch("live/src")
	m.StreamStarted("live/src")
	require.Empty(t, m.Jobs())
}

// TestOnDemandLadder runs the real ffmpeg: an on-demand ladder does not
// start with its source, starts on Ensure, lives while touched (through a
// rendition path too) and stops IdleTimeout after the last touch, ending
// its rendition streams.
func TestOnDemandLadder(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var m *Manager
	h := hub.New(hub.Options{Logger: quiet, RepublishGrace: 200 * time.Millisecond, OnStreamStart: func(p string) { m.StreamStarted(p) }})
	rungs := ladder[:1]
	m = New(Options{Hub: h, Ladder: func(p string) []Rung {
		if p == "live/src" {
			return rungs
		}
		return nil
	}, OnDemand: func(string) bool { return true }, IdleTimeout: 1500 * time.Millisecond, Logger: quiet})
	defer m.Close()
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publishClipFor(ctx, t, h, "live/src", 15*time.Second)
	rendition := RenditionPath("live/src", rungs[0])

	require.Eventually(t, func() bool { return h.Stream("live/src") != nil }, 5*time.Second, 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	require.Empty(t, m.Jobs(), "an on-demand ladder does not start with its source")
	require.Nil(t, h.Stream(rendition))

	require.True(t, m.Ensure("live/src"))
	require.True(t, m.Ensure("live/src"), "a second Ensure finds it running")
	require.Len(t, m.Jobs(), 1)
	require.True(t, m.Jobs()[0].OnDemand)
	var reader *hub.Reader
	require.Eventually(t, func() bool {
		m.Touch("live/src")
		var err error
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		reader, err = h.Subscribe(sctx, rendition, hub.ClientInfo{Protocol: "test"})
		return err == nil
	}, 20*time.Second, 50*time.Millisecond, "rendition never appeared")
	defer reader.Close()

	// Touches through the rendition path keep it alive past IdleTimeout.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		m.Touch(rendition)
		require.Len(t, m.Jobs(), 1, "touched ladder stopped")
	}
	stopped := time.Now()
	require.Eventually(t, func() bool { return len(m.Jobs()) == 0 }, 5*time.Second, 20*time.Millisecond, "idle ladder not stopped")
	require.GreaterOrEqual(t, time.Since(stopped), time.Second, "stopped before IdleTimeout")
	require.True(t, reader.Stream().Ended(), "the rendition stream ends with its ladder")

	// It starts again on demand while the source lives.
	require.True(t, m.Ensure("live/src"))
	require.Eventually(t, func() bool { return h.Stream(rendition) != nil }, 20*time.Second, 50*time.Millisecond)
}
