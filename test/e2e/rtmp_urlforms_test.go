package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestRTMPFullPathInAppWithFFmpeg (issue 12): ffmpeg told to connect the
// way MediaMTX's gortmplib does — app "live/mtxsrc", an empty stream
// name — plays the stream live/mtxsrc.
func TestRTMPFullPathInAppWithFFmpeg(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/mtxsrc", testutil.PublishOptions{})
	waitForStream(t, s, "live/mtxsrc")
	res, err := testutil.Decode(t, "rtmp://"+s.RTMPAddr+"/live/mtxsrc", 2*time.Second,
		"-rtmp_app", "live/mtxsrc", "-rtmp_playpath", "")
	require.NoError(t, err)
	require.Greater(t, res.VideoFrames, 10, "frames decoded; ffmpeg: %v", res.Errors)
	started := s.Logs("rtmp play started")
	require.NotEmpty(t, started)
	require.Equal(t, "live/mtxsrc", started[0]["path"])
}
