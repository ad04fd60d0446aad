package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// abrConfig is a small on-demand ladder (no hls.always_on) for a 640x360
// source: the source and three rungs.
const abrConfig = `
paths:
  "live/*":
    transcode:
      passthrough: true
      ladder:
        - { name: 360p, width: 640, height: 360, video_bitrate: 600k, audio_bitrate: 64k, preset: ultrafast }
        - { name: 240p, width: 426, height: 240, video_bitrate: 300k, preset: ultrafast }
        - { name: 144p, width: 256, height: 144, video_bitrate: 150k, max_fps: 15, preset: ultrafast }
`

// streamInf is one EXT-X-STREAM-INF of a multivariant playlist.
type streamInf struct {
	attrs map[string]string
	uri   string
}

func parseMultivariant(t *testing.T, body string) []streamInf {
	t.Helper()
	var out []streamInf
	lines := strings.Split(body, "\n")
	for i, line := range lines {
		rest, ok := strings.CutPrefix(line, "#EXT-X-STREAM-INF:")
		if !ok {
			continue
		}
		require.Less(t, i+1, len(lines))
		si := streamInf{attrs: map[string]string{}, uri: lines[i+1]}
		for _, name := range []string{"BANDWIDTH", "AVERAGE-BANDWIDTH", "CODECS", "RESOLUTION", "FRAME-RATE"} {
			if strings.Contains(rest, name+"=") {
				si.attrs[name] = attr(rest, name)
			}
		}
		// attr finds "BANDWIDTH=" inside "AVERAGE-BANDWIDTH=" if it
		// comes first: read BANDWIDTH from the start.
		if v, ok := strings.CutPrefix(rest, "BANDWIDTH="); ok {
			si.attrs["BANDWIDTH"], _, _ = strings.Cut(v, ",")
		}
		out = append(out, si)
	}
	return out
}

func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	require.NoError(t, err)
	r, err := url.Parse(ref)
	require.NoError(t, err)
	return b.ResolveReference(r).String()
}

// TestABRMultivariant: with a 3-rung on-demand ladder, /live/abr.m3u8 is a
// multivariant playlist that starts the ladder, lists the source and every
// rung with measured attributes; ffprobe sees every variant, ffmpeg decodes
// each, segments with the same number start at the same presentation time
// in every variant, and rendition playlists report their siblings.
func TestABRMultivariant(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(abrConfig), 0o600))
	s := testutil.StartSluice(t, nil, "-config", cfg)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/abr", testutil.PublishOptions{Pattern: testutil.Pattern{Size: "640x360", Bitrate: "1000k"}})
	waitForStream(t, s, "live/abr")
	base := "http://" + s.HTTPAddr + "/live/abr.m3u8"

	// On demand: no ladder before the multivariant playlist is asked for.
	var tr struct {
		Transcoders []struct {
			Source string `json:"source"`
			State  string `json:"state"`
		} `json:"transcoders"`
	}
	getJSON(t, "http://"+s.HTTPAddr+"/api/v1/transcoders", &tr)
	require.Empty(t, tr.Transcoders, "an on-demand ladder waits for its first viewer")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	status, hdr, body := hlsGet(t, ctx, base)
	took := time.Since(start)
	require.Equal(t, http.StatusOK, status, "%s", body)
	require.Equal(t, "application/vnd.apple.mpegurl", hdr.Get("Content-Type"))
	t.Logf("multivariant after %s:\n%s", took.Round(time.Millisecond), body)
	require.Less(t, took, 12*time.Second, "the first request waits at most ReadyTimeout")
	getJSON(t, "http://"+s.HTTPAddr+"/api/v1/transcoders", &tr)
	require.Len(t, tr.Transcoders, 1)
	require.Equal(t, "live/abr", tr.Transcoders[0].Source)

	urls := checkMultivariant(t, base, string(body))
	// ffprobe opens the multivariant playlist: one program per variant.
	programs := probePrograms(t, base)
	require.Len(t, programs, 4, "ffprobe programs")
	var sizes []string
	for _, p := range programs {
		for _, st := range p.Streams {
			if st.CodecType == "video" {
				sizes = append(sizes, fmt.Sprintf("%dx%d", st.Width, st.Height))
			}
		}
	}
	sort.Strings(sizes)
	require.Equal(t, []string{"256x144", "426x240", "640x360", "640x360"}, sizes)

	// Every variant decodes.
	for _, u := range urls {
		res, err := testutil.Decode(t, u, 3*time.Second)
		require.NoError(t, err)
		require.Empty(t, res.Errors, "%s decode errors", u)
		require.Greater(t, res.VideoFrames, 30, "%s decoded frames", u)
	}

	// Segment alignment: same MSN, same presentation time (within a frame).
	checkAlignment(t, urls, []time.Duration{40 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond, time.Second / 15})

	// Segments exist now: the attributes are measured (a rendition's
	// start-up segment left out).
	infs := parseMultivariant(t, getText(t, base))
	for i, w := range []string{"640x360", "640x360", "426x240", "256x144"} {
		require.Equal(t, w, infs[i].attrs["RESOLUTION"])
	}
	avg := func(i int) int { n, _ := strconv.Atoi(infs[i].attrs["AVERAGE-BANDWIDTH"]); return n }
	t.Logf("measured: %s", getText(t, base))
	require.Greater(t, avg(0), avg(2), "the 1000k source carries more than the 300k rung")
	require.Greater(t, avg(2), avg(3), "240p carries more than 144p")
	require.Less(t, avg(3), 400_000, "144p at 150k video")

	// LL-HLS: a rendition's playlist reports its siblings (§4.4.5.4).
	pl := getText(t, urls[2])
	for _, sib := range []string{"abr/hls/media.m3u8", "abr_360p.m3u8", "abr_144p.m3u8"} {
		require.Regexp(t, `#EXT-X-RENDITION-REPORT:URI="`+sib+`",LAST-MSN=\d+,LAST-PART=\d+`, pl)
	}
	require.NotContains(t, pl, `URI="abr_240p.m3u8"`)
	src := getText(t, urls[0])
	require.Contains(t, src, `#EXT-X-RENDITION-REPORT:URI="../../abr_240p.m3u8"`)
}

// checkMultivariant checks the variants of a multivariant playlist of the
// abrConfig ladder and returns their media playlist URLs.
func checkMultivariant(t *testing.T, base, body string) []string {
	t.Helper()
	infs := parseMultivariant(t, body)
	require.Len(t, infs, 4)
	want := []struct {
		uri, res, fps string
	}{
		{"abr/hls/media.m3u8", "640x360", "25.000"},
		{"abr_360p.m3u8", "640x360", ""},
		{"abr_240p.m3u8", "426x240", ""},
		{"abr_144p.m3u8", "256x144", "15.000"},
	}
	var urls []string
	for i, w := range want {
		si := infs[i]
		require.Equal(t, w.uri, si.uri)
		require.Equal(t, w.res, si.attrs["RESOLUTION"], si.uri)
		if w.fps != "" {
			require.Equal(t, w.fps, si.attrs["FRAME-RATE"], si.uri)
		}
		require.Regexp(t, `^avc1\.[0-9a-f]{6},mp4a\.40\.2$`, si.attrs["CODECS"], si.uri)
		bw, err := strconv.Atoi(si.attrs["BANDWIDTH"])
		require.NoError(t, err, si.uri)
		avg, err := strconv.Atoi(si.attrs["AVERAGE-BANDWIDTH"])
		require.NoError(t, err, si.uri)
		require.GreaterOrEqual(t, bw, avg, si.uri)
		require.Greater(t, avg, 50_000, si.uri)
		urls = append(urls, resolve(t, base, si.uri))
	}
	return urls
}

type probeProgram struct {
	Streams []testutil.ProbeStream `json:"streams"`
}

// probePrograms runs ffprobe -show_programs on url.
func probePrograms(t *testing.T, u string) []probeProgram {
	t.Helper()
	testutil.RequireTool(t, "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffprobe", "-hide_banner", "-v", "error", "-print_format", "json", "-show_programs", u)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "ffprobe: %s", stderr.String())
	var res struct {
		Programs []probeProgram `json:"programs"`
	}
	require.NoError(t, json.Unmarshal(out, &res))
	return res.Programs
}

// mediaSegments reads a media playlist: its init section URL and its
// complete segments' URLs by MSN.
func mediaSegments(t *testing.T, u string) (initURL string, segs map[uint64]string) {
	t.Helper()
	body := getText(t, u)
	segs = map[uint64]string{}
	var msn uint64
	extinf := false
	for _, line := range strings.Split(body, "\n") {
		switch {
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			n, err := strconv.ParseUint(strings.TrimPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"), 10, 64)
			require.NoError(t, err)
			msn = n
		case strings.HasPrefix(line, "#EXT-X-MAP:"):
			initURL = resolve(t, u, attr(line, "URI"))
		case strings.HasPrefix(line, "#EXTINF:"):
			extinf = true
		case line != "" && !strings.HasPrefix(line, "#") && extinf:
			segs[msn] = resolve(t, u, line)
			msn++
			extinf = false
		}
	}
	require.NotEmpty(t, initURL, u)
	return initURL, segs
}

// segmentStart returns the presentation time of the first video sample of
// an fMP4 segment (tfdt + composition offset over the track's timescale).
func segmentStart(t *testing.T, initData []byte, segURL string) time.Duration {
	t.Helper()
	var in fmp4.Init
	require.NoError(t, in.Unmarshal(bytes.NewReader(initData)))
	videoID, timescale := 0, uint32(0)
	for _, tr := range in.Tracks {
		if tr.Codec.IsVideo() {
			videoID, timescale = tr.ID, tr.TimeScale
		}
	}
	require.NotZero(t, videoID, "init has a video track")
	var ps fmp4.Parts
	require.NoError(t, ps.Unmarshal([]byte(getText(t, segURL))), segURL)
	for _, p := range ps {
		for _, tr := range p.Tracks {
			if tr.ID == videoID && len(tr.Samples) > 0 {
				pts := int64(tr.BaseTime) + int64(tr.Samples[0].PTSOffset)
				return time.Duration(pts) * time.Second / time.Duration(timescale)
			}
		}
	}
	t.Fatalf("%s: no video sample", segURL)
	return 0
}

// checkAlignment: every segment number present in all variants starts at
// the same presentation time in each, within one frame: each variant's
// start is within one of its frame durations (frames[i]) of the first
// variant's (encoders round timestamps to their frame rate's time base).
func checkAlignment(t *testing.T, urls []string, frames []time.Duration) {
	t.Helper()
	inits := make([][]byte, len(urls))
	segs := make([]map[uint64]string, len(urls))
	for i, u := range urls {
		var initURL string
		initURL, segs[i] = mediaSegments(t, u)
		inits[i] = []byte(getText(t, initURL))
	}
	var common []uint64
	for msn := range segs[0] {
		all := true
		for _, s := range segs[1:] {
			if _, ok := s[msn]; !ok {
				all = false
			}
		}
		if all {
			common = append(common, msn)
		}
	}
	sort.Slice(common, func(i, j int) bool { return common[i] < common[j] })
	require.GreaterOrEqual(t, len(common), 2, "segment numbers common to every variant")
	if len(common) > 4 {
		common = common[len(common)-4:]
	}
	for _, msn := range common {
		var starts []time.Duration
		for i := range urls {
			starts = append(starts, segmentStart(t, inits[i], segs[i][msn]))
		}
		t.Logf("segment %d starts at %v", msn, starts)
		for i, st := range starts {
			d := st - starts[0]
			require.LessOrEqual(t, max(d, -d), frames[i], "segment %d of %s starts at %v, the source's at %v", msn, urls[i], st, starts[0])
		}
	}
}

// abrBrowserResult is what web/test/abr.mjs prints.
type abrBrowserResult struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
	Levels []struct {
		Bitrate int    `json:"bitrate"`
		Height  int    `json:"height"`
		URL     string `json:"url"`
	} `json:"levels"`
	Before *abrSwitch `json:"before"`
	// AutoAfterThrottle: hls.js's ABR was in charge after the throttle.
	AutoAfterThrottle bool        `json:"autoAfterThrottle"`
	After             *abrSwitch  `json:"after"`
	Switches          []abrSwitch `json:"switches"`
	Errors            []struct {
		Details string `json:"details"`
		Fatal   bool   `json:"fatal"`
	} `json:"errors"`
}

type abrSwitch struct {
	Level   int     `json:"level"`
	Bitrate int     `json:"bitrate"`
	Height  int     `json:"height"`
	At      float64 `json:"at"`
}

// TestABRBrowser: hls.js in headless Chromium plays the multivariant
// playlist, and switches to a lower level when the bandwidth is throttled
// (DevTools Network.emulateNetworkConditions); see web/test/abr.mjs. The
// browser runs in its own process group, killed when the test ends.
func TestABRBrowser(t *testing.T) {
	root := repoRoot(t)
	requireChromium(t, root, "web/node_modules/hls.js/dist/hls.min.js")
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(abrConfig), 0o600))
	s := testutil.StartSluice(t, nil, "-config", cfg)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/abr", testutil.PublishOptions{Pattern: testutil.Pattern{Size: "640x360", Bitrate: "1000k"}})
	waitForStream(t, s, "live/abr")

	const timeout = 60 // seconds, inside the script
	var res abrBrowserResult
	line := runBrowserScript(t, root, filepath.Join(root, "web", "test", "abr.mjs"), (timeout+15)*time.Second, &res,
		"--base", "http://"+s.HTTPAddr, "--path", "live/abr", "--kbps", "350", "--timeout", strconv.Itoa(timeout))
	t.Logf("abr.mjs: %s", line)
	require.True(t, res.OK, "hls.js did not switch down: %s (the run's stderr is logged above)", res.Error)
	require.Len(t, res.Levels, 4, "hls.js sees every variant")
	require.True(t, res.AutoAfterThrottle, "ABR enabled for the throttled part")
	// The script holds the top level until the throttle, so there is
	// always a lower level to switch to (a loaded machine used to leave
	// hls.js on the lowest level before the throttle).
	top := 0
	for _, l := range res.Levels {
		top = max(top, l.Bitrate)
	}
	require.Equal(t, top, res.Before.Bitrate, "playing the top level before the throttle")
	require.Less(t, res.After.Bitrate, res.Before.Bitrate)
	for _, e := range res.Errors {
		require.False(t, e.Fatal, "fatal hls.js error %s", e.Details)
	}
}
