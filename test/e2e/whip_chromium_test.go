package e2e

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// chromiumWHIPResult is what web/test/whip-publish.mjs reports.
type chromiumWHIPResult struct {
	OK               bool   `json:"ok"`
	Error            string `json:"error"`
	PLICount         int    `json:"pliCount"`
	FIRCount         int    `json:"firCount"`
	KeyFramesEncoded int    `json:"keyFramesEncoded"`
	FramesEncoded    int    `json:"framesEncoded"`
	Encoder          string `json:"encoder"`
}

// startChromiumWHIP runs web/test/whip-publish.mjs (Chromium with its fake
// camera publishing over WHIP) for seconds in its own process group; the
// returned function waits for it and returns its report. Every process it
// started is killed when the test ends.
func startChromiumWHIP(t *testing.T, base, path string, seconds int) func() chromiumWHIPResult {
	t.Helper()
	root := repoRoot(t)
	requireChromium(t, root)
	run := startBrowserScript(t, root, filepath.Join(root, "web", "test", "whip-publish.mjs"), time.Duration(seconds+45)*time.Second, nil,
		"--base", base, "--path", path, "--seconds", strconv.Itoa(seconds))
	return func() chromiumWHIPResult {
		var res chromiumWHIPResult
		run.result(&res)
		return res
	}
}

// extinfs returns the EXTINF durations of a media playlist.
func extinfs(t *testing.T, body string) []float64 {
	t.Helper()
	var out []float64
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "#EXTINF:"); ok {
			v, _, _ = strings.Cut(v, ",")
			d, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err, line)
			out = append(out, d)
		}
	}
	return out
}

// Chromium publishing over WHIP sends a keyframe only when asked: the
// server asks on the segment grid (hls.segment_duration after the last
// keyframe), so HLS segments stay near the segment duration. Asked only at
// the start, segments grew to 10 s (the packager's cut without a
// keyframe), EXT-X-TARGETDURATION:10, and dash.js never played.
func TestChromiumWHIPSegmentsFollowTheSegmentDuration(t *testing.T) {
	const segment = 2 * time.Second
	s := testutil.StartSluice(t, []string{"SLUICE_HLS_VARIANT=fmp4", "SLUICE_HLS_SEGMENT_DURATION=" + segment.String()})
	base := "http://" + s.HTTPAddr
	wait := startChromiumWHIP(t, base, "live/cr", 20)
	waitForStream(t, s, "live/cr")

	// The media playlist, through the multivariant one if there is one.
	playlist := base + "/live/cr.m3u8"
	body := waitForPlaylist(t, playlist)
	if infs := parseMultivariant(t, body); len(infs) > 0 {
		playlist = resolve(t, playlist, infs[0].uri)
	}
	var durs []float64
	deadline := time.Now().Add(25 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _, b := hlsGet(t, ctx, playlist)
		cancel()
		body = string(b)
		if durs = extinfs(t, body); len(durs) >= 6 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	res := wait()
	t.Logf("Chromium (%s): %d frames, %d keyframes, %d PLIs, %d FIRs; segments %v",
		res.Encoder, res.FramesEncoded, res.KeyFramesEncoded, res.PLICount, res.FIRCount, durs)
	require.True(t, res.OK, "Chromium published: %s", res.Error)
	require.GreaterOrEqual(t, len(durs), 6, "six segments of about %v within 25 s; playlist:\n%s", segment, body)
	for i, d := range durs {
		require.LessOrEqual(t, d, 2*segment.Seconds(), "segment %d is %.3f s (segment duration %v); playlist:\n%s", i, d, segment, body)
	}
	require.GreaterOrEqual(t, res.PLICount+res.FIRCount, 5, "Chromium was asked for keyframes on the segment grid")
	require.NotContains(t, body, "#EXT-X-TARGETDURATION:10")
}
