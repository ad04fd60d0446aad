package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestHLSDurationsFromConfig: hls.segment_duration, hls.part_duration and
// hls.window shape the live playlist.
func TestHLSDurationsFromConfig(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{
		"SLUICE_HLS_SEGMENT_DURATION=1s", "SLUICE_HLS_PART_DURATION=100ms", "SLUICE_HLS_WINDOW=3",
	})
	// A 1 s GOP, so segments can be cut every second.
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/cfg", testutil.PublishOptions{Pattern: testutil.Pattern{GOP: 25}})
	waitForStream(t, s, "live/cfg")
	url := "http://" + s.HTTPAddr + "/live/cfg.m3u8"
	waitForPlaylist(t, url)

	var body string
	for i := 0; i < 60; i++ { // wait until the window is full
		body = getText(t, url)
		if strings.Count(body, "#EXTINF:") >= 3 {
			break
		}
		waitForPlaylistChange(t, url, body)
	}
	require.Contains(t, body, "#EXT-X-PART-INF:PART-TARGET=0.1", "part target from hls.part_duration")
	require.Contains(t, body, "#EXT-X-TARGETDURATION:1\n", "target duration from hls.segment_duration with a 1 s GOP")
	require.Equal(t, 3, strings.Count(body, "#EXTINF:"), "hls.window segments listed:\n%s", body)
	for _, line := range strings.Split(body, "\n") {
		if d, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
			var secs float64
			_, err := fmt.Sscanf(d, "%g", &secs)
			require.NoError(t, err)
			require.InDelta(t, 1.0, secs, 0.1, "segment duration: %s", line)
		}
	}
}

// waitForPlaylistChange blocks (LL-HLS blocking reload would be neater, but
// this works for every variant) until the playlist differs from prev.
func waitForPlaylistChange(t *testing.T, url, prev string) {
	t.Helper()
	require.Eventually(t, func() bool { return getText(t, url) != prev }, 10*time.Second, 50*time.Millisecond, "playlist %s never changed", url)
}
