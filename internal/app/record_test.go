package app

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// The playback URLs of recordings are authorized as a play of the stream:
// 401 without the play key; with it they reach the recorder's catalog
// (404: nothing recorded). Bad parameters are 400, and file names that
// are not recording names never reach the disk.
func TestRecordPlaybackIsAuthorized(t *testing.T) {
	a := newTestApp(t, fmt.Sprintf(`
record: { dir: %q }
paths:
  "live/*": { play_keys: ["play-k"], record: true }
`, t.TempDir()))
	h := a.httpSrv.Handler
	for _, u := range []string{
		"/live/cam1/recording.mp4?start=2026-12-02T10:00:00Z&duration=5s",
		"/live/cam1/vod.m3u8?start=2026-12-02T10:00:00Z",
		"/live/cam1/recordings/2026-12-02T10-00-00.000Z.mp4",
	} {
		require.Equal(t, http.StatusUnauthorized, do(t, h, "GET", u).StatusCode, "%s without a key", u)
		require.Equal(t, http.StatusNotFound, do(t, h, "GET", u, "Authorization", "Bearer play-k").StatusCode, "%s with the key", u)
	}
	for u, want := range map[string]int{
		"/live/cam1/recording.mp4?start=yesterday&duration=5s&key=play-k":                    http.StatusBadRequest,
		"/live/cam1/recording.mp4?start=2026-12-02T10:00:00Z&key=play-k":                     http.StatusBadRequest,
		"/live/cam1/recording.mp4?start=2026-12-02T10:00:00Z&duration=48h&key=play-k":        http.StatusBadRequest,
		"/live/cam1/vod.m3u8?start=2026-12-02T10:00:00Z&end=2026-12-01T10:00:00Z&key=play-k": http.StatusBadRequest,
		"/live/cam1/recordings/..%2f..%2fsluice.yaml?key=play-k":                             http.StatusNotFound,
		"/live/cam1/recordings/notes.txt?key=play-k":                                         http.StatusNotFound,
		"/live/cam1/recording.mp4/x?key=play-k":                                              http.StatusNotFound,
	} {
		require.Equal(t, want, do(t, h, "GET", u).StatusCode, u)
	}
}
