package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestRelayHLSIngest: ffmpeg's live HLS (1 s segments, a window of 5, old
// segments deleted; MPEG-TS and fMP4) pulled always-on plays over
// HTTP-FLV for 20 s at wall-clock rate with no timestamp errors (ffmpeg's
// or the hub's) while the source's window rolls past its segments, and
// over the pulled stream's LL-HLS playlist.
func TestRelayHLSIngest(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	for _, v := range []struct {
		name  string
		extra []string
	}{{"mpegts", nil}, {"fmp4", []string{"-hls_segment_type", "fmp4"}}} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			src, _ := testutil.StartLiveHLS(t, testutil.LiveHLSH264AAC, v.extra...)
			cfg := writeConfig(t, fmt.Sprintf(`paths:
  "ingest/hls":
    source: %s
`, src))
			s := testutil.StartSluice(t, nil, "-config", cfg)
			waitForStream(t, s, "ingest/hls")

			const watch = 20 * time.Second
			res, err := testutil.Decode(t, "http://"+s.HTTPAddr+"/ingest/hls.flv", watch, "-re")
			require.NoError(t, err)
			// -re reads at the stream's rate: 25 fps for 20 s, less the
			// start-up at a keyframe.
			require.GreaterOrEqual(t, res.VideoFrames, 450, "HTTP-FLV frames of a 25 fps source in %s", watch)
			for _, e := range res.Errors {
				require.NotContains(t, strings.ToLower(e), "dts", "ffmpeg saw timestamp errors: %v", res.Errors)
			}
			require.Empty(t, s.Logs("publisher timestamp jump"), "the hub saw timestamp jumps in the pulled stream")
			require.Empty(t, s.Logs("relay pull failed"), "the pull failed while the source's window rolled")

			res, err = testutil.Decode(t, "http://"+s.HTTPAddr+"/ingest/hls.m3u8", 3*time.Second)
			require.NoError(t, err)
			require.GreaterOrEqual(t, res.VideoFrames, 50, "LL-HLS frames of the pulled stream (errors %v)", res.Errors)
		})
	}
}
