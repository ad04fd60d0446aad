package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestRelayPullsHLSOnDemand: an http:// source whose path ends in .m3u8
// goes to the HLS client, not the HTTP-FLV one. The edge pulls another
// Sluice's media playlist (LL-HLS, fMP4) on demand, brought up by an
// HTTP-FLV viewer, and ffmpeg decodes it.
func TestRelayPullsHLSOnDemand(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	origin := testutil.StartSluice(t, nil)
	testutil.PublishTestPattern(t, "rtmp://"+origin.RTMPAddr+"/live/src", testutil.PublishOptions{})
	waitForStream(t, origin, "live/src")

	cfg := writeConfig(t, fmt.Sprintf(`paths:
  "pull/hls":
    source: http://%s/live/src/hls/media.m3u8
    source_on_demand: true
    source_on_demand_start_timeout: 20s
`, origin.HTTPAddr))
	edge := testutil.StartSluice(t, nil, "-config", cfg)

	res, err := testutil.Decode(t, "http://"+edge.HTTPAddr+"/pull/hls.flv", 4*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 60, "decoded %d frames pulled over HLS; errors: %v", res.VideoFrames, res.Errors)

	var st struct {
		Publisher struct {
			Protocol string `json:"protocol"`
		} `json:"publisher"`
		Source struct {
			State string `json:"state"`
		} `json:"source"`
	}
	getJSON(t, "http://"+edge.HTTPAddr+"/api/v1/streams/pull/hls", &st)
	require.Equal(t, "relay", st.Publisher.Protocol)
	require.Equal(t, "live", st.Source.State)
}
