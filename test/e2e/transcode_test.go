package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

const ladderConfig = `
paths:
  "live/*":
    hls: { always_on: true }   # the ladder runs from the start of the source
    transcode:
      passthrough: true
      ladder:
        - { name: 360p, width: 640, height: 360, video_bitrate: 600k, audio_bitrate: 64k, preset: ultrafast }
        - { name: 240p, width: 426, height: 240, video_bitrate: 300k, preset: ultrafast }
        - { name: 144p, width: 256, height: 144, video_bitrate: 150k, max_fps: 15, preset: ultrafast }
`

// pidOf returns the pid field of the newest log record whose msg contains
// substr, or 0.
func pidOf(s *testutil.Sluice, substr string) int {
	recs := s.Logs(substr)
	if len(recs) == 0 {
		return 0
	}
	pid, _ := recs[len(recs)-1]["pid"].(float64)
	return int(pid)
}

// TestTranscodeLadder: a 3-rung ladder makes three streams that ffprobe sees
// at their configured sizes and ffmpeg decodes; killing the transcoder's
// ffmpeg restarts it while a viewer of a rendition stays connected.
func TestTranscodeLadder(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(ladderConfig), 0o600))
	s := testutil.StartSluice(t, nil, "-config", cfg)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/abr", testutil.PublishOptions{Pattern: testutil.Pattern{Size: "640x360", Bitrate: "1000k"}})
	waitForStream(t, s, "live/abr")

	sizes := map[string][2]int{"360p": {640, 360}, "240p": {426, 240}, "144p": {256, 144}}
	for name, size := range sizes {
		path := "live/abr_" + name
		waitForStream(t, s, path)
		url := "http://" + s.HTTPAddr + "/" + path + ".flv"
		streams, err := testutil.Probe(t, url, 20*time.Second)
		require.NoError(t, err)
		var w, h int
		audio := false
		for _, st := range streams {
			if st.CodecType == "video" {
				require.Equal(t, "h264", st.CodecName, path)
				w, h = st.Width, st.Height
			}
			if st.CodecType == "audio" {
				require.Equal(t, "aac", st.CodecName, path)
				audio = true
			}
		}
		require.Equal(t, size, [2]int{w, h}, "%s resolution", path)
		require.True(t, audio, "%s carries audio", path)
		res, err := testutil.Decode(t, url, 2*time.Second)
		require.NoError(t, err)
		require.Empty(t, res.Errors, "%s decode errors", path)
		require.Greater(t, res.VideoFrames, 20, "%s decoded frames", path)
	}

	// Kill the transcoder's ffmpeg: it comes back, the viewer stays.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/abr_240p.flv")
	require.NoError(t, err)
	readTagsFor(t, st, time.Second)
	// An HLS packager follows the rendition too (started by this request).
	playlist := "http://" + s.HTTPAddr + "/live/abr_240p.m3u8"
	require.NotContains(t, waitForPlaylist(t, playlist), "#EXT-X-DISCONTINUITY")
	pid := pidOf(s, "transcode: ffmpeg started")
	require.NotZero(t, pid, "transcoder logs its ffmpeg pid")
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		p := pidOf(s, "transcode: ffmpeg started")
		return p != 0 && p != pid
	}, 20*time.Second, 100*time.Millisecond, "ffmpeg not restarted after kill")
	require.NotEmpty(t, s.Logs("transcode: ffmpeg exited, restarting"))
	n, _ := readTagsFor(t, st, 3*time.Second)
	require.Greater(t, n, 20, "rendition viewer keeps receiving after the restart")
	// The rendition's playlist marks the restart and goes on.
	require.Eventually(t, func() bool {
		return strings.Contains(getText(t, playlist), "#EXT-X-DISCONTINUITY")
	}, 20*time.Second, 200*time.Millisecond, "no #EXT-X-DISCONTINUITY in %s after the ffmpeg restart", playlist)

	// The API and the metrics show the ladder, its speed and the restart.
	var got struct {
		Transcoders []struct {
			Source     string   `json:"source"`
			Renditions []string `json:"renditions"`
			State      string   `json:"state"`
			Speed      float64  `json:"speed"`
			Restarts   int      `json:"restarts"`
		} `json:"transcoders"`
	}
	getJSON(t, "http://"+s.HTTPAddr+"/api/v1/transcoders", &got)
	require.Len(t, got.Transcoders, 1)
	tr := got.Transcoders[0]
	require.Equal(t, "live/abr", tr.Source)
	require.ElementsMatch(t, []string{"live/abr_360p", "live/abr_240p", "live/abr_144p"}, tr.Renditions)
	require.Equal(t, "running", tr.State)
	require.GreaterOrEqual(t, tr.Restarts, 1)
	require.Greater(t, tr.Speed, 0.5, "a live ladder runs at about real time")
	metrics := getText(t, "http://"+s.HTTPAddr+"/metrics")
	require.Contains(t, metrics, `sluice_transcoder_running{source="live/abr"} 1`)
	require.Regexp(t, `sluice_transcoder_restarts_total\{source="live/abr"\} [1-9]`, metrics)
}
