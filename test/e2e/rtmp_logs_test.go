package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// rtmpWarnings returns the WARN (and worse) lines of the RTMP component.
func rtmpWarnings(s *testutil.Sluice) []map[string]any {
	var out []map[string]any
	for _, r := range s.Logs("") {
		if r["component"] == "rtmp" && (r["level"] == "WARN" || r["level"] == "ERROR") {
			out = append(out, r)
		}
	}
	return out
}

// TestRTMPLogsOneLinePerEvent (issue 12): an ffmpeg viewer that leaves
// normally is one INFO line, not a WARN; a second publisher of a busy path
// is exactly one WARN naming the path; a play of a missing stream names
// its path.
func TestRTMPLogsOneLinePerEvent(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	url := "rtmp://" + s.RTMPAddr + "/live/logs"
	testutil.PublishTestPattern(t, url, testutil.PublishOptions{})
	waitForStream(t, s, "live/logs")

	// A viewer plays 2 s and exits.
	res, err := testutil.Decode(t, url, 2*time.Second)
	require.NoError(t, err)
	require.Greater(t, res.VideoFrames, 10, "the viewer decoded too little")
	require.Eventually(t, func() bool { return len(s.Logs("rtmp play ended")) > 0 }, 10*time.Second, 20*time.Millisecond,
		"no 'rtmp play ended' line after the viewer left; logs:\n%s", s.LogText())
	time.Sleep(300 * time.Millisecond) // a second line, if any, would come now
	ended := s.Logs("rtmp play ended")
	require.Len(t, ended, 1, "lines for one viewer leaving")
	require.Equal(t, "INFO", ended[0]["level"], "a viewer leaving: %v", ended[0])
	require.Equal(t, "live/logs", ended[0]["path"])
	require.Empty(t, rtmpWarnings(s), "WARN lines after a viewer left normally")

	// A viewer closed abruptly (killed, as a player window is closed) with
	// media unread: the kernel resets the connection. Still one INFO line.
	killed := testutil.Start(t, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", url, "-f", "null", "-")
	require.Eventually(t, func() bool { return len(s.Logs("rtmp play started")) > 1 }, 10*time.Second, 20*time.Millisecond,
		"the second viewer did not start; logs:\n%s", s.LogText())
	time.Sleep(time.Second) // media flowing
	killed.Kill()
	require.Eventually(t, func() bool { return len(s.Logs("rtmp play ended")) > 1 }, 10*time.Second, 20*time.Millisecond,
		"no second 'rtmp play ended' line after the viewer was killed; logs:\n%s", s.LogText())
	time.Sleep(300 * time.Millisecond)
	ended = s.Logs("rtmp play ended")
	require.Len(t, ended, 2, "lines for two viewers leaving")
	require.Equal(t, "INFO", ended[1]["level"], "a killed viewer: %v", ended[1])
	require.Empty(t, rtmpWarnings(s), "WARN lines after a viewer was killed")

	// A second publisher of the same path.
	second := testutil.PublishTestPattern(t, url, testutil.PublishOptions{})
	require.ErrorContains(t, second.Wait(20*time.Second), "exit status", "the second publisher was not refused")
	time.Sleep(300 * time.Millisecond)
	warns := rtmpWarnings(s)
	require.Len(t, warns, 1, "WARN lines for one refused publisher: %v", warns)
	require.Contains(t, warns[0]["msg"], "publish refused")
	require.Equal(t, "live/logs", warns[0]["path"])
	require.Contains(t, fmt.Sprint(warns[0]["reason"]), "already being published")

	// A play of a stream that is not published names the path.
	_, err = testutil.Decode(t, "rtmp://"+s.RTMPAddr+"/live/nothing", time.Second)
	require.Error(t, err)
	require.Eventually(t, func() bool { return len(s.Logs("rtmp play refused")) > 0 }, 5*time.Second, 20*time.Millisecond)
	refused := s.Logs("rtmp play refused")
	require.Equal(t, "live/nothing", refused[0]["path"], "%v", refused[0])

	// An invalid name: the reason quotes it, no empty path attribute.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+s.RTMPAddr+"/live/x$y", nil)
	require.NoError(t, err)
	require.Error(t, c.Play(ctx))
	c.Close()
	require.Eventually(t, func() bool { return len(s.Logs("rtmp play refused")) > 1 }, 5*time.Second, 20*time.Millisecond)
	require.Contains(t, fmt.Sprint(s.Logs("rtmp play refused")[1]["reason"]), `"x$y" has the character '$'`)
	for _, r := range s.Logs("rtmp") {
		if p, ok := r["path"]; ok && p == "" {
			t.Errorf("log line with an empty path: %v", r)
		}
	}
}

// TestRTMPDroppedTrackIsTold (issue 12): ffmpeg publishing H.264 +
// Nellymoser (FLV SoundFormat 6, which Sluice does not carry) gets the
// video through, and the server logs exactly one line naming the dropped
// track (the publisher also gets an onStatus warning: see
// TestDroppedTrackTellsThePublisher).
func TestRTMPDroppedTrackIsTold(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	publishWithAudio(t, s, "live/nelly", 44100, "-c:a", "nellymoser", "-ar", "44100", "-ac", "1")
	res, err := testutil.Decode(t, "http://"+s.HTTPAddr+"/live/nelly.flv", 2*time.Second)
	require.NoError(t, err)
	require.Greater(t, res.VideoFrames, 10, "video frames over HTTP-FLV")
	dropped := s.Logs("rtmp track dropped")
	require.Len(t, dropped, 1, "log lines for the dropped track: %v", dropped)
	require.Equal(t, "Nellymoser", dropped[0]["codec"])
	require.Equal(t, "WARN", dropped[0]["level"])
	require.Equal(t, "live/nelly", dropped[0]["path"])
}

// TestRTMPMP3Carried (issue 12): ffmpeg publishing H.264 + MP3 (FLV
// SoundFormat 2, ffmpeg's default FLV audio) keeps its audio over RTMP and
// HTTP-FLV.
func TestRTMPMP3Carried(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	publishWithAudio(t, s, "live/mp3", 44100, "-c:a", "libmp3lame", "-b:a", "64k", "-ar", "44100")
	for _, url := range []string{"http://" + s.HTTPAddr + "/live/mp3.flv", "rtmp://" + s.RTMPAddr + "/live/mp3"} {
		streams, err := testutil.Probe(t, url, 20*time.Second)
		require.NoError(t, err, url)
		var audio *testutil.ProbeStream
		for i := range streams {
			if streams[i].CodecType == "audio" {
				audio = &streams[i]
			}
		}
		require.NotNil(t, audio, "%s: no audio stream in %+v", url, streams)
		require.Equal(t, "mp3", audio.CodecName, url)
		require.Equal(t, "44100", audio.SampleRate, url)
		// Decoding the audio works (errors would be listed).
		res, err := testutil.Decode(t, url, 2*time.Second, "-vn")
		require.NoError(t, err, url)
		require.Empty(t, res.Errors, "%s: decode errors", url)
	}
	require.Empty(t, s.Logs("rtmp track dropped"), "MP3 reported as dropped")
	// HLS plays it too (its audio: TestMP3EveryProtocol in mp3_test.go).
	res, err := testutil.Decode(t, "http://"+s.HTTPAddr+"/live/mp3.m3u8", 2*time.Second)
	require.NoError(t, err)
	require.Greater(t, res.VideoFrames, 10, "HLS video frames of an MP3 stream")
}
