package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// rtspStream is what /api/v1/streams/PATH says of a pulled camera.
type rtspStream struct {
	Tracks struct {
		Video *struct {
			Codec  string `json:"codec"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
		} `json:"video"`
		Audio *struct {
			Codec string `json:"codec"`
		} `json:"audio"`
	} `json:"tracks"`
	Publisher struct {
		Protocol string `json:"protocol"`
	} `json:"publisher"`
	Source struct {
		State      string `json:"state"`
		Reconnects int    `json:"reconnects"`
	} `json:"source"`
}

// TestRelayRTSPCameraEveryProtocol: an IP camera (GStreamer's RTSP server
// fed H.264 with B-frames + AAC by ffmpeg) pulled on demand plays over
// HTTP-FLV, HLS, DASH, RTMP and SRT; ffmpeg decodes each.
func TestRelayRTSPCameraEveryProtocol(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cam := testutil.StartRTSPCamera(t, testutil.CameraH264AAC)
	cfg := writeConfig(t, fmt.Sprintf(`paths:
  "cam/door":
    source: %s
    source_on_demand: true
`, cam.URL))
	s := testutil.StartSluice(t, nil, "-config", cfg)

	for _, v := range []struct{ proto, url string }{
		{"HTTP-FLV", "http://" + s.HTTPAddr + "/cam/door.flv"}, // the first viewer starts the pull
		{"HLS", "http://" + s.HTTPAddr + "/cam/door.m3u8"},
		{"DASH", "http://" + s.HTTPAddr + "/cam/door.mpd"},
		{"RTMP", "rtmp://" + s.RTMPAddr + "/cam/door"},
		{"SRT", testutil.SRTURL(s.SRTAddr, "read:cam/door")},
	} {
		res, err := testutil.Decode(t, v.url, 3*time.Second)
		require.NoError(t, err, "%s of the pulled camera", v.proto)
		require.GreaterOrEqual(t, res.VideoFrames, 50, "%s: video frames decoded in 3 s of a 25 fps camera (errors %v)", v.proto, res.Errors)
	}
	var st rtspStream
	getJSON(t, "http://"+s.HTTPAddr+"/api/v1/streams/cam/door", &st)
	require.NotNil(t, st.Tracks.Video)
	require.Equal(t, "h264", st.Tracks.Video.Codec)
	require.Equal(t, 320, st.Tracks.Video.Width)
	require.NotNil(t, st.Tracks.Audio, "the camera's AAC track")
	require.Equal(t, "aac", st.Tracks.Audio.Codec)
	require.Equal(t, "relay", st.Publisher.Protocol)
	require.Equal(t, "live", st.Source.State)
}

// TestRelayRTSPReconnect: an always-on camera pull over RTSP/TCP survives
// the camera rebooting: the pull reconnects by itself and viewers decode
// again; the time from the camera's return to the stream being live again
// is logged.
func TestRelayRTSPReconnect(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cam := testutil.StartRTSPCamera(t, testutil.CameraH264AAC)
	cfg := writeConfig(t, fmt.Sprintf(`paths:
  "cam/yard":
    source: %s?transport=tcp
`, cam.URL))
	s := testutil.StartSluice(t, nil, "-config", cfg)
	api := "http://" + s.HTTPAddr + "/api/v1/streams/cam/yard"
	var st rtspStream
	require.Eventually(t, func() bool {
		getJSON(t, api, &st)
		return st.Source.State == "live"
	}, 30*time.Second, 100*time.Millisecond, "the always-on pull never went live")
	res, err := testutil.Decode(t, "http://"+s.HTTPAddr+"/cam/yard.flv", 2*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 30, "before the reboot (errors %v)", res.Errors)

	cam.Kill()
	require.Eventually(t, func() bool {
		getJSON(t, api, &st)
		return st.Source.Reconnects >= 1 && st.Source.State != "live"
	}, 30*time.Second, 100*time.Millisecond, "the pull never noticed the camera went away")
	cam.Restart(t)
	back := time.Now()
	require.Eventually(t, func() bool {
		getJSON(t, api, &st)
		return st.Source.State == "live"
	}, 30*time.Second, 50*time.Millisecond, "the pull did not reconnect to the restarted camera: %+v", st.Source)
	t.Logf("RTSP pull live again %s after the camera came back (%d reconnects)", time.Since(back).Round(10*time.Millisecond), st.Source.Reconnects)
	res, err = testutil.Decode(t, "http://"+s.HTTPAddr+"/cam/yard.flv", 3*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 40, "3 s after the reboot (errors %v)", res.Errors)
}
