package rtmpserver

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestViewerResetLogsOneInfoLine (issue 12): a viewer that closes its
// socket with media unread — the kernel answers with a reset, as when a
// player window is closed — is a normal leave: one INFO line with the path
// once, no WARN.
func TestViewerResetLogsOneInfoLine(t *testing.T) {
	rec := newLogRec()
	srv := &Server{}
	addr := startServerWith(t, srv, rec)
	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{}))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { _ = (&replay.Publisher{URL: "rtmp://" + addr + "/live/v", Clip: clip}).Run(ctx) }()

	for round := 1; round <= 3; round++ {
		// Our raw client: no deleteStream, nothing read after the handshake.
		require.Eventually(t, func() bool { return len(rec.lines("publish started", nil)) > 0 }, 10*time.Second, 20*time.Millisecond)
		player := dialRawUnread(t, addr)
		player.play("live", "v")
		local := player.nc.LocalAddr().String()
		require.Eventually(t, func() bool { return len(rec.lines("rtmp play started", map[string]string{"remote": local})) > 0 },
			10*time.Second, 20*time.Millisecond, "viewer %d did not start; logs:\n%s", round, rec.dump())
		time.Sleep(700 * time.Millisecond) // media piles up unread
		player.nc.Close()

		require.Eventually(t, func() bool { return len(rec.lines("rtmp", map[string]string{"remote": local, "path": "live/v"})) >= 2 },
			10*time.Second, 20*time.Millisecond, "no end line for viewer %d; logs:\n%s", round, rec.dump())
		time.Sleep(200 * time.Millisecond) // a second line, if any, comes now
		var ends []logLine
		for _, l := range rec.lines("rtmp", map[string]string{"remote": local}) {
			if l.Msg != "rtmp play started" {
				ends = append(ends, l)
			}
		}
		require.Len(t, ends, 1, "viewer %d: want one line for its leaving; logs:\n%s", round, rec.dump())
		require.Equal(t, "rtmp play ended", ends[0].Msg)
		require.Equal(t, slog.LevelInfo, ends[0].Level, "viewer %d: %+v", round, ends[0])
		require.Equal(t, 1, countKey(ends[0].Keys, "path"), "viewer %d: path attributes in %v", round, ends[0].Keys)
		t.Logf("viewer %d: %s reason=%q", round, ends[0].Msg, ends[0].Attrs["reason"])
	}
}

func countKey(keys []string, k string) int {
	n := 0
	for i := slices.Index(keys, k); i >= 0; i = slices.Index(keys, k) {
		n++
		keys = keys[i+1:]
	}
	return n
}
