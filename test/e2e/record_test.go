package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// recordingInfo is one entry of GET /api/v1/recordings.
type recordingInfo struct {
	Path     string    `json:"path"`
	File     string    `json:"file"`
	Start    time.Time `json:"start"`
	Duration float64   `json:"duration"`
	Size     int64     `json:"size"`
	Codecs   []string  `json:"codecs"`
}

func listRecordings(t *testing.T, s *testutil.Sluice, path string) []recordingInfo {
	t.Helper()
	resp, err := http.Get("http://" + s.HTTPAddr + "/api/v1/recordings?path=" + url.QueryEscape(path))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET /api/v1/recordings")
	var body struct {
		Recordings []recordingInfo `json:"recordings"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return body.Recordings
}

func totalDuration(recs []recordingInfo) float64 {
	d := 0.0
	for _, r := range recs {
		d += r.Duration
	}
	return d
}

// waitRecorded waits until path's recordings hold at least secs of media.
func waitRecorded(t *testing.T, s *testutil.Sluice, path string, secs float64, limit time.Duration) []recordingInfo {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		recs := listRecordings(t, s, path)
		if totalDuration(recs) >= secs {
			return recs
		}
		require.True(t, time.Now().Before(deadline), "only %.1f s of %s recorded within %s, want %.1f s: %+v",
			totalDuration(recs), path, limit, secs, recs)
		time.Sleep(200 * time.Millisecond)
	}
}

// decodeErrors decodes src with ffmpeg at -v error and returns what it
// printed (empty: decoded cleanly).
func decodeErrors(t *testing.T, src string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-i", src, "-f", "null", "-").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("ffmpeg: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// probeSpan returns the media time of src (format duration minus start
// time), as ffprobe reports it.
func probeSpan(t *testing.T, src string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration,start_time",
		"-of", "default=nw=1", src).Output()
	require.NoError(t, err, "ffprobe %s", src)
	var dur, start float64
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		f, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "duration":
			dur = f
		case "start_time":
			start = f
		}
	}
	return dur - start
}

func recordConfig(t *testing.T, dir, extra string) string {
	return writeConfig(t, fmt.Sprintf(`
record:
  dir: %q
%s
paths:
  "live/*": { record: true }
`, dir, extra))
}

// TestRecordSurvivesKill9: ~15 s of an ffmpeg publish is recorded, the
// server is killed (SIGKILL) at an arbitrary point of a fragment, and every
// file it left decodes with ffmpeg without an error and together they hold
// at least 13 s. A server restarted on the same record.dir lists them
// (from the files) and cuts a 5 s clip from them that decodes to 5 s ± 1 s.
func TestRecordSurvivesKill9(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	testutil.RequireTool(t, "ffprobe")
	dir := t.TempDir()
	cfg := recordConfig(t, dir, "  segment_duration: 6s")
	s := testutil.StartSluice(t, nil, "-config", cfg)
	published := time.Now()
	publishWithAudio(t, s, "live/rec", 44100, "-c:a", "aac", "-b:a", "64k")
	waitRecorded(t, s, "live/rec", 14.6, 40*time.Second)
	// Kill a few hundred ms into the next fragment.
	time.Sleep(630 * time.Millisecond)
	require.NoError(t, s.Cmd.Process.Kill())
	killed := time.Now()
	_ = s.Wait(10 * time.Second)

	files, err := filepath.Glob(filepath.Join(dir, "live", "rec", "*.mp4"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 2, "6 s segments over 15 s: %v", files)
	total := 0.0
	for _, f := range files {
		require.Empty(t, decodeErrors(t, f), "ffmpeg decoding %s after kill -9", filepath.Base(f))
		total += probeSpan(t, f)
	}
	t.Logf("kill -9: %d files hold %.2f s; publish ran %.2f s (incl. connect); lost at the end ≤ one fragment",
		len(files), total, killed.Sub(published).Seconds())
	require.GreaterOrEqual(t, total, 13.0, "recorded media after kill -9")

	s2 := testutil.StartSluice(t, nil, "-config", cfg)
	recs := listRecordings(t, s2, "live/rec")
	require.Len(t, recs, len(files), "the restarted server lists the files: %+v", recs)
	require.InDelta(t, total, totalDuration(recs), 1.0, "listed duration vs ffprobe's")
	require.Equal(t, []string{"h264", "aac"}, recs[0].Codecs)
	// Across the first file boundary: 3 s before the first file's end.
	from := recs[0].Start.Add(time.Duration((recs[0].Duration - 3) * float64(time.Second)))
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	u := fmt.Sprintf("http://%s/live/rec/recording.mp4?start=%s&duration=5s", s2.HTTPAddr, from.UTC().Format(time.RFC3339Nano))
	resp, err := http.Get(u)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, u)
	require.Equal(t, "video/mp4", resp.Header.Get("Content-Type"))
	f, err := os.Create(clip)
	require.NoError(t, err)
	_, err = f.ReadFrom(resp.Body)
	resp.Body.Close()
	f.Close()
	require.NoError(t, err)
	require.Empty(t, decodeErrors(t, clip), "ffmpeg decoding the clip")
	require.InDelta(t, 5.0, probeSpan(t, clip), 1.0, "clip duration (ffprobe)")

	code, _ := httpStatus(t, fmt.Sprintf("http://%s/live/rec/recording.mp4?start=2001-01-01T00:00:00Z&duration=5s", s2.HTTPAddr))
	require.Equal(t, http.StatusNotFound, code, "a clip of a time never recorded")
	code, _ = httpStatus(t, fmt.Sprintf("http://%s/live/rec/recordings/..%%2f..%%2fetc%%2fpasswd", s2.HTTPAddr))
	require.NotEqual(t, http.StatusOK, code, "path traversal")
}

// TestRecordVODPlaylist: vod.m3u8 over a recording spanning two files
// plays in hls.js (headless Chromium) and seeks to its middle, and ffmpeg
// decodes it without an error.
func TestRecordVODPlaylist(t *testing.T) {
	root := repoRoot(t)
	requireChromium(t, root, "web/node_modules/hls.js/dist/hls.min.js")
	dir := t.TempDir()
	s := testutil.StartSluice(t, nil, "-config", recordConfig(t, dir, "  segment_duration: 4s"))
	publishWithAudio(t, s, "live/vod", 48000, "-c:a", "aac", "-b:a", "64k")
	recs := waitRecorded(t, s, "live/vod", 9, 30*time.Second)
	require.GreaterOrEqual(t, len(recs), 2, "two files: %+v", recs)
	start := recs[0].Start.Add(-time.Second).UTC().Format(time.RFC3339Nano)
	end := recs[1].Start.Add(time.Duration(recs[1].Duration * float64(time.Second))).UTC().Format(time.RFC3339Nano)
	vod := fmt.Sprintf("http://%s/live/vod/vod.m3u8?start=%s&end=%s", s.HTTPAddr, start, end)
	code, body := httpStatus(t, vod)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, "#EXT-X-PLAYLIST-TYPE:VOD")

	require.Empty(t, decodeErrors(t, vod), "ffmpeg decoding vod.m3u8")
	span := probeSpan(t, vod)
	require.Greater(t, span, 7.0, "vod.m3u8 media time (ffprobe)")

	var res struct {
		OK        bool    `json:"ok"`
		Duration  float64 `json:"duration"`
		Played    float64 `json:"played"`
		SeekTo    float64 `json:"seekTo"`
		AfterSeek float64 `json:"afterSeek"`
		Errors    []struct {
			Details string `json:"details"`
			Fatal   bool   `json:"fatal"`
		} `json:"errors"`
	}
	line := runBrowserScript(t, root, filepath.Join(root, "web", "test", "vod.mjs"), 55*time.Second, &res,
		"--url", vod, "--timeout", "40")
	t.Logf("vod.mjs: %s", line)
	require.True(t, res.OK, "hls.js plays the VOD and seeks to its middle: %s", line)
	require.InDelta(t, span, res.Duration, 1.5, "hls.js duration vs ffprobe's")
}

// waitLogField waits for a log line whose msg contains msg and, when field is
// set, whose field contains val.
func waitLogField(t *testing.T, s *testutil.Sluice, msg, field, val string, limit time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, l := range s.Logs(msg) {
			if v, _ := l[field].(string); field == "" || strings.Contains(v, val) {
				return l
			}
		}
		require.True(t, time.Now().Before(deadline), "no log %q (%s ~ %q) within %s", msg, field, val, limit)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRecordRotationRetentionWriteError: with 2 s files a stream is
// recorded in several files; when the stream's directory cannot be
// written (replaced by a regular file: reliable even for root, unlike
// permissions) the recording stops with one error line and
// sluice_record_errors_total while an HTTP-FLV viewer keeps getting media;
// once the directory is back the recording resumes in a new file; files
// older than record.delete_after are deleted.
func TestRecordRotationRetentionWriteError(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	dir := t.TempDir()
	s := testutil.StartSluice(t, nil, "-config", recordConfig(t, dir, `  segment_duration: 2s
  part_duration: 500ms
  delete_after: 6s
  retry_after: 1s`))
	publishWithAudio(t, s, "live/rot", 44100, "-c:a", "aac", "-b:a", "64k")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	viewer, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/rot.flv")
	require.NoError(t, err)
	var tags atomicCounter
	go func() {
		for {
			tag, err := viewer.r.ReadTag()
			if err != nil {
				return
			}
			if tag.Type == flv.TagVideo {
				tags.add()
			}
		}
	}()

	streamDir := filepath.Join(dir, "live", "rot")
	recs := waitRecorded(t, s, "live/rot", 5, 30*time.Second)
	require.GreaterOrEqual(t, len(recs), 2, "rotation every 2 s: %+v", recs)

	// The disk "fails": new files cannot be created.
	require.NoError(t, os.Rename(streamDir, streamDir+".moved"))
	require.NoError(t, os.WriteFile(streamDir, []byte("not a directory"), 0o644))
	before := tags.get()
	stopped := waitLogField(t, s, "recording stopped", "path", "live/rot", 10*time.Second)
	require.Equal(t, "ERROR", stopped["level"])
	require.Len(t, s.Logs("recording stopped"), 1, "one line per stop, not per retry")
	metrics := getText(t, "http://"+s.HTTPAddr+"/metrics")
	require.Regexp(t, `(?m)^sluice_record_errors_total [1-9]`, metrics)
	time.Sleep(2 * time.Second)
	require.Greater(t, tags.get(), before+25, "the HTTP-FLV viewer keeps getting video while the recording is stopped")

	// Space returns: the next retry starts a new file.
	require.NoError(t, os.Remove(streamDir))
	waitLogField(t, s, "recording resumed", "path", "live/rot", 10*time.Second)
	waitRecorded(t, s, "live/rot", 1, 10*time.Second)

	// Retention: files last written more than 6 s ago go.
	waitLogField(t, s, "recording deleted", "file", string(filepath.Separator)+"rot"+string(filepath.Separator), 20*time.Second)
}

// atomicCounter counts across goroutines.
type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }

func (c *atomicCounter) get() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }
