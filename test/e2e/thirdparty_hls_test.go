//go:build unix

package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// gstSample is one fpsdisplaysink report: frames rendered so far, when.
type gstSample struct {
	at       time.Duration // since gst-launch started
	rendered int
}

var gstRendered = regexp.MustCompile(`rendered: (\d+), dropped: (\d+)`)

// playGStreamer plays url with GStreamer's classic hlsdemux (uridecodebin,
// decoded video and audio, both synced to the clock as a player would) for
// d and returns fpsdisplaysink's once-a-second reports of frames rendered.
func playGStreamer(t *testing.T, url string, d time.Duration) ([]gstSample, string) {
	t.Helper()
	testutil.RequireTool(t, "gst-launch-1.0")
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, "gst-launch-1.0", "-v",
		"uridecodebin", "uri="+url, "name=d",
		"d.", "!", "queue", "!", "videoconvert", "!",
		"fpsdisplaysink", "video-sink=fakesink", "text-overlay=false", "sync=true", "fps-update-interval=1000",
		"d.", "!", "queue", "!", "audioconvert", "!", "fakesink", "sync=true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 3 * time.Second
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	require.NoError(t, cmd.Start())
	var samples []gstSample
	var other []string
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := gstRendered.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			samples = append(samples, gstSample{time.Since(start), n})
		} else if !strings.Contains(line, "caps = ") && len(other) < 40 {
			other = append(other, line)
		}
	}
	_ = cmd.Wait()
	return samples, strings.Join(other, "\n")
}

// TestGStreamerPlaysDefaultHLS plays the default playlist URL with
// GStreamer's classic hlsdemux (uridecodebin), which knows nothing of
// parts: it must get the stream's frames at its frame rate for 20 s, with
// no second in which it rendered nothing (a rebuffer). Before, it got the
// fMP4 playlist: hlsdemux starts the first segment it loads at stream time
// 0 while qtdemux stamps the samples with their tfdt, so the sinks waited
// as long as the packager had run before the window (here about 30 s, so
// no frame came in the 15 s start-up); it now gets MPEG-TS
// (hls.mpegts_user_agents). GST_HLS_VARIANT (hls.variant),
// GST_AGE (seconds the stream runs first) and GST_EXTRA (publisher ffmpeg
// options) are for comparing by hand.
func TestGStreamerPlaysDefaultHLS(t *testing.T) {
	t.Parallel() // mostly waits: 0.11 cores, its bounds held at a load of 10 (see main_test.go)
	var env []string
	if v := os.Getenv("GST_HLS_VARIANT"); v != "" { // to compare by hand
		env = append(env, "SLUICE_HLS_VARIANT="+v)
	}
	s := testutil.StartSluice(t, env)
	const path = "live/gst"
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/"+path, testutil.PublishOptions{Pattern: testutil.Pattern{Size: "640x360", Rate: 30, GOP: 60, Bitrate: "800k"}, Extra: gstExtra()})
	waitForStream(t, s, path)
	url := "http://" + s.HTTPAddr + "/" + path + ".m3u8"
	// A viewer arriving at a running stream: the packager (started by the
	// first request) has slid its window past the stream's start. (Young
	// streams played: the wait is the media time before the window.)
	status, _, _ := httpGet(t, url)
	require.Equal(t, 200, status)
	time.Sleep(gstAge())

	const watch = 20 * time.Second
	const startup = 15 * time.Second // first TS playlist (4 segments) and hlsdemux's buffering: 7–9 s measured
	samples, log := playGStreamer(t, url, startup+watch+2*time.Second)
	var first = -1
	for i, sm := range samples {
		if sm.rendered > 0 {
			first = i
			break
		}
	}
	require.GreaterOrEqual(t, first, 0, "GStreamer rendered no frame of %s in %s; its log:\n%s", url, startup+watch, log)
	t0 := samples[first]
	var last gstSample
	stalls := 0
	for i := first + 1; i < len(samples); i++ {
		if samples[i].at-t0.at > watch {
			break
		}
		if samples[i].rendered == samples[i-1].rendered {
			stalls++
		}
		last = samples[i]
	}
	wall := (last.at - t0.at).Seconds()
	frames := last.rendered - t0.rendered
	t.Logf("GStreamer hlsdemux on %s: first frame after %.1f s, then %d frames in %.1f s (%.1f fps), %d one-second reports without a new frame",
		url, t0.at.Seconds(), frames, wall, float64(frames)/wall, stalls)
	assert.GreaterOrEqual(t, wall, watch.Seconds()-2, "GStreamer kept reporting for %s", watch)
	assert.Zero(t, stalls, "seconds without a rendered frame (rebuffering)")
	assert.InDelta(t, 30, float64(frames)/wall, 3, "frames per wall-clock second (the source is 30 fps)")
	if t.Failed() {
		t.Logf("GStreamer log:\n%s", log)
	}
}

func gstExtra() []string {
	if v := os.Getenv("GST_EXTRA"); v != "" {
		return strings.Fields(v)
	}
	return nil
}

func gstAge() time.Duration {
	if v, err := strconv.Atoi(os.Getenv("GST_AGE")); err == nil {
		return time.Duration(v) * time.Second
	}
	return 40 * time.Second
}
