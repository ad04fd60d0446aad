package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestRelayPullsHTTPFLVAlwaysOnAndRTMPForHLS: one Sluice pulls from
// another: an always-on HTTP-FLV source (pulled from startup, before any
// viewer) that ffmpeg decodes over HTTP-FLV, and an on-demand RTMP source
// that an HLS playlist request brings up.
func TestRelayPullsHTTPFLVAlwaysOnAndRTMPForHLS(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	origin := testutil.StartSluice(t, nil)
	testutil.PublishTestPattern(t, "rtmp://"+origin.RTMPAddr+"/live/src", testutil.PublishOptions{})
	waitForStream(t, origin, "live/src")

	cfg := writeConfig(t, fmt.Sprintf(`paths:
  "pull/flv":
    source: http://%s/live/src.flv
  "hls/*":
    source: rtmp://%s/live/{name}
    source_on_demand: true
`, origin.HTTPAddr, origin.RTMPAddr))
	edge := testutil.StartSluice(t, nil, "-config", cfg)
	// Always on: the pull runs without a viewer.
	waitLog(t, edge, "relay pull started")
	require.Eventually(t, func() bool {
		var st struct {
			Viewers struct {
				ByProtocol map[string]int `json:"by_protocol"`
			} `json:"viewers"`
		}
		getJSON(t, "http://"+origin.HTTPAddr+"/api/v1/streams/live/src", &st)
		return st.Viewers.ByProtocol["http-flv"] == 1
	}, 15*time.Second, 100*time.Millisecond, "the edge's pull is an HTTP-FLV viewer of the origin")

	res, err := testutil.Decode(t, "http://"+edge.HTTPAddr+"/pull/flv.flv", 3*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 50, "decoded %d frames pulled over HTTP-FLV; errors: %v", res.VideoFrames, res.Errors)

	// An HLS playlist request starts an on-demand pull and is answered.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+edge.HTTPAddr+"/hls/src.m3u8", nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "playlist of an on-demand source: %s", body)
	require.True(t, strings.HasPrefix(string(body), "#EXTM3U"), "playlist: %s", body)
	// A path without a source answers 404 at once.
	start := time.Now()
	code, _ := httpStatus(t, "http://"+edge.HTTPAddr+"/nothing/here.flv")
	require.Equal(t, http.StatusNotFound, code)
	require.Less(t, time.Since(start), 2*time.Second)
}
