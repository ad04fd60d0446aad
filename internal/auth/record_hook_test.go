package auth

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/testutil"
)

func TestRecordSegmentHook(t *testing.T) {
	testutil.CheckGoroutines(t)
	rec := &recorder{}
	srv := hookServer(t, rec.handler(t))
	cfg, err := config.Defaults()
	require.NoError(t, err)
	cfg.Hooks.OnRecordSegment = srv.URL + "/global"
	cfg.Paths = map[string]config.PathConfig{"cams/*": {Hooks: &config.PathHooksConfig{OnRecordSegment: srv.URL + "/cams"}}}
	a, err := New(Options{Config: cfg, Logger: quiet})
	require.NoError(t, err)

	start := time.Date(2026, 12, 2, 10, 0, 0, 123e6, time.UTC)
	a.RecordSegment("live/cam1", "/rec/live/cam1/2026-12-02T10-00-00.123Z.mp4", start, 90*time.Second)
	require.Eventually(t, func() bool { return rec.calls() == 1 }, 5*time.Second, 10*time.Millisecond)
	p, body := rec.last()
	require.Equal(t, "/global", p)
	require.Equal(t, "record_segment", body["action"])
	require.Equal(t, "live/cam1", body["path"])
	require.Equal(t, "cam1", body["name"])
	require.Equal(t, "/rec/live/cam1/2026-12-02T10-00-00.123Z.mp4", body["file"])
	require.Equal(t, "2026-12-02T10:00:00.123Z", body["start"])
	require.EqualValues(t, 90, body["duration"])

	a.RecordSegment("cams/door", "f.mp4", start, time.Second)
	require.Eventually(t, func() bool { return rec.calls() == 2 }, 5*time.Second, 10*time.Millisecond)
	p, _ = rec.last()
	require.Equal(t, "/cams", p, "a path's hooks override the global one")
	require.NoError(t, a.Close())
}
