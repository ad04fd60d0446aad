package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
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
			frames, took, warnings, err := watchTimestamps("http://"+s.HTTPAddr+"/ingest/hls.flv", watch)
			require.NoError(t, err)
			require.Empty(t, warnings, "ffmpeg saw timestamps go wrong in the pulled stream")
			// -t stops at 20 s of media (500 frames); joining at the GOP
			// cache's keyframe gives up to a GOP (1 s) at once.
			require.InDelta(t, 500, frames, 10, "HTTP-FLV frames in %s of media", watch)
			require.GreaterOrEqual(t, took, watch-2*time.Second, "%d frames came faster than the clock: %s", frames, took)
			require.Less(t, took, watch+8*time.Second, "%d frames came slower than the clock: %s", frames, took)
			require.Empty(t, s.Logs("publisher timestamp jump"), "the hub saw timestamp jumps in the pulled stream")
			require.Empty(t, s.Logs("relay pull failed"), "the pull failed while the source's window rolled")
			t.Logf("%s: HTTP-FLV viewer decoded %d frames in %s", v.name, frames, took.Round(10*time.Millisecond))

			res, err := testutil.Decode(t, "http://"+s.HTTPAddr+"/ingest/hls.m3u8", 3*time.Second)
			require.NoError(t, err)
			require.GreaterOrEqual(t, res.VideoFrames, 50, "LL-HLS frames of the pulled stream (errors %v)", res.Errors)
		})
	}
}

// timestampWarnings are what ffmpeg's muxers print when timestamps go
// backwards or are missing (lower case).
var timestampWarnings = []string{"non-monotonous", "non monotonically", "invalid dts", "invalid timestamps"}

// watchTimestamps reads d of media from url with ffmpeg, decoding the video
// and copying every stream into Matroska: the null muxer checks no
// timestamps, the Matroska muxer warns about any that go backwards. It
// returns the decoded frame count, how long the run took and the timestamp
// warnings.
func watchTimestamps(url string, d time.Duration) (frames int, took time.Duration, warnings []string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	secs := strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "warning", "-progress", "pipe:1",
		"-i", url,
		"-map", "0:v", "-t", secs, "-f", "null", "-",
		"-map", "0", "-c", "copy", "-t", secs, "-f", "matroska", os.DevNull)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	out, err := cmd.Output()
	took = time.Since(start)
	if err != nil {
		return 0, took, nil, fmt.Errorf("ffmpeg reading %s: %v: %s", url, err, stderr.String())
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		l := strings.ToLower(line)
		for _, w := range timestampWarnings {
			if strings.Contains(l, w) {
				warnings = append(warnings, line)
				break
			}
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "frame="); ok {
			frames, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return frames, took, warnings, nil
}
