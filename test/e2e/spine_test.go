package e2e

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// requireH264AAC asserts ffprobe saw exactly one H.264 video and one AAC
// audio stream of the test pattern's shape.
func requireH264AAC(t *testing.T, url string, streams []testutil.ProbeStream) {
	t.Helper()
	var video, audio []testutil.ProbeStream
	for _, s := range streams {
		switch s.CodecType {
		case "video":
			video = append(video, s)
		case "audio":
			audio = append(audio, s)
		}
	}
	require.Len(t, video, 1, "%s: video streams in %+v", url, streams)
	require.Len(t, audio, 1, "%s: audio streams in %+v", url, streams)
	require.Equal(t, "h264", video[0].CodecName, url)
	require.Equal(t, 320, video[0].Width, url)
	require.Equal(t, 240, video[0].Height, url)
	require.Equal(t, "aac", audio[0].CodecName, url)
	require.Equal(t, 2, audio[0].Channels, url)
}

// requireDecodes decodes 3 s of url with ffmpeg: no error lines, and about
// 3 s worth of frames at 25 fps.
func requireDecodes(t *testing.T, url string, extra ...string) {
	t.Helper()
	res, err := testutil.Decode(t, url, 3*time.Second, extra...)
	require.NoError(t, err)
	require.Empty(t, res.Errors, "%s: ffmpeg reported decode errors", url)
	require.GreaterOrEqual(t, res.VideoFrames, 60, "%s: decoded video frames in 3 s at 25 fps", url)
}

func TestPublishAndPlayOverRTMPHTTPFLVAndWSFLV(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/t", testutil.PublishOptions{})
	waitForStream(t, s, "live/t")

	urls := []string{"rtmp://" + s.RTMPAddr + "/live/t", "http://" + s.HTTPAddr + "/live/t.flv"}
	for _, u := range urls {
		streams, err := testutil.Probe(t, u, 20*time.Second)
		require.NoError(t, err)
		requireH264AAC(t, u, streams)
		requireDecodes(t, u)
	}

	// WS-FLV: our WebSocket client pipes the binary messages into ffmpeg.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsURL := "ws://" + s.HTTPAddr + "/live/t.flv"
	ws, _, err := websocket.Dial(ctx, wsURL, nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	ws.SetReadLimit(64 << 20) // one message may carry the whole GOP cache
	pr, pw := io.Pipe()
	go func() {
		for {
			typ, msg, err := ws.Read(ctx)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if typ != websocket.MessageBinary {
				pw.CloseWithError(io.ErrUnexpectedEOF)
				return
			}
			if _, err := pw.Write(msg); err != nil {
				return
			}
		}
	}()
	var probeIn bytes.Buffer
	tee := io.TeeReader(pr, &probeIn)
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-progress", "pipe:1",
		"-f", "flv", "-i", "pipe:0", "-t", "3", "-f", "null", "-")
	cmd.Stdin = tee
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "ffmpeg on WS-FLV: %s", stderr.String())
	require.Empty(t, strings.TrimSpace(stderr.String()), "ffmpeg reported errors decoding WS-FLV")
	require.GreaterOrEqual(t, lastFrameCount(string(out)), 60, "decoded video frames from WS-FLV in 3 s")
	pr.Close()

	// ffprobe on the bytes the WebSocket carried.
	probe := exec.Command("ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-f", "flv", "pipe:0")
	probe.Stdin = bytes.NewReader(probeIn.Bytes())
	pout, err := probe.Output()
	require.NoError(t, err)
	require.Contains(t, string(pout), `"codec_name": "h264"`)
	require.Contains(t, string(pout), `"codec_name": "aac"`)
}

func lastFrameCount(progress string) int {
	n := 0
	for _, line := range strings.Split(progress, "\n") {
		if v, ok := strings.CutPrefix(line, "frame="); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return n
}

func TestRTMPSPublishAndPlay(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cert, key, _ := testutil.SelfSignedCert(t)
	s := testutil.StartSluice(t, []string{"SLUICE_RTMPS_CERT=" + cert, "SLUICE_RTMPS_KEY=" + key})
	require.NotEmpty(t, s.RTMPSAddr, "RTMPS listener must be up when cert and key are set")
	testutil.PublishTestPattern(t, "rtmps://"+s.RTMPSAddr+"/live/secure", testutil.PublishOptions{})
	waitForStream(t, s, "live/secure")
	for _, u := range []string{"rtmps://" + s.RTMPSAddr + "/live/secure", "rtmp://" + s.RTMPAddr + "/live/secure"} {
		streams, err := testutil.Probe(t, u, 20*time.Second)
		require.NoError(t, err)
		requireH264AAC(t, u, streams)
		requireDecodes(t, u)
	}
}

// TestNewViewerStartsAtKeyframeWithoutWaiting uses a 4 s GOP: a viewer that
// had to wait for the next keyframe would wait up to 4 s.
func TestNewViewerStartsAtKeyframeWithoutWaiting(t *testing.T) {
	s := testutil.StartSluice(t, nil)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/gop", testutil.PublishOptions{Pattern: testutil.Pattern{GOP: 100}})
	waitForStream(t, s, "live/gop")
	for i := 0; i < 5; i++ {
		time.Sleep(700 * time.Millisecond) // land at different points in the GOP
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/gop.flv")
		require.NoError(t, err)
		var first flv.VideoTag
		for {
			tag, err := st.r.ReadTag()
			require.NoError(t, err)
			if tag.Type != flv.TagVideo {
				continue
			}
			v, err := flv.ParseVideo(tag.Body)
			require.NoError(t, err)
			if v.PacketType == flv.SequenceHeader {
				continue
			}
			first = v
			break
		}
		elapsed := time.Since(start)
		st.body.Close()
		cancel()
		require.True(t, first.Key, "viewer %d: first video frame must be a keyframe", i)
		require.Less(t, elapsed, time.Second, "viewer %d: first frame took %s; a GOP is 4 s", i, elapsed)
	}
}
