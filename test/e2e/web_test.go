//go:build unix

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// browserResult is what web/test/player.mjs prints.
type browserResult struct {
	Proto         string   `json:"proto"`
	OK            bool     `json:"ok"`
	Error         string   `json:"error"`
	Screenshot    string   `json:"screenshot"`
	PageErrors    []string `json:"pageErrors"`
	ConsoleErrors []string `json:"consoleErrors"`
	// player pages
	Advanced    float64 `json:"advanced"`
	WallSeconds float64 `json:"wallSeconds"`
	// WebRTC holds getStats facts (WHEP only).
	WebRTC *struct {
		FramesDecoded float64 `json:"framesDecoded"`
		AudioSamples  float64 `json:"audioSamples"`
	} `json:"webrtc"`
	StartedAfter float64  `json:"startedAfter"`
	Status       string   `json:"status"`
	Latency      *float64 `json:"latency"`
	Bitrate      *float64 `json:"bitrate"`
	Width        int      `json:"width"`
	Height       int      `json:"height"`
	ShownLatency string   `json:"shownLatency"`
	ShownBitrate string   `json:"shownBitrate"`
	FatalErrors  []string `json:"fatalErrors"`
	Errors       []struct {
		Message string `json:"message"`
		Fatal   bool   `json:"fatal"`
	} `json:"errors"`
	// dashboard
	Listed  bool   `json:"listed"`
	Preview bool   `json:"preview"`
	Card    string `json:"card"`
}

// TestWebPlayer plays a published stream in Debian's Chromium through the
// player page (every protocol the server offers) and checks the dashboard
// lists it. Screenshots go to $SLUICE_ARTIFACTS (default artifacts/).
func TestWebPlayer(t *testing.T) {
	root := repoRoot(t)
	script := requireBrowserTools(t, root)
	artifacts := artifactsDir(t, root)

	s := testutil.StartSluice(t, nil)
	const path = "live/web"
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/"+path, testutil.PublishOptions{Pattern: testutil.Pattern{Size: "640x360"}})
	waitForStream(t, s, path)
	base := "http://" + s.HTTPAddr

	t.Run("pages", func(t *testing.T) {
		for _, target := range []string{"/", "/" + path} {
			status, ct, body := httpGet(t, base+target)
			require.Equal(t, http.StatusOK, status, target)
			require.Equal(t, "text/html; charset=utf-8", ct, target)
			require.NotContains(t, body, `id="missing-assets"`, "%s: the binary was built without the player libraries (make web)", target)
		}
	})

	players := []struct {
		proto, name string
		// probe answers the protocol's URL; a 404 means the feature is not
		// in this build yet.
		probe func() (int, error)
	}{
		{"flv", "HTTP-FLV", nil},
		{"wsflv", "WS-FLV", nil},
		{"hls", "LL-HLS", func() (int, error) { return probeStatus("GET", base+"/"+path+".m3u8", "") }},
		{"dash", "DASH", func() (int, error) { return probeStatus("GET", base+"/"+path+".mpd", "") }},
		{"whep", "WHEP", func() (int, error) { return probeStatus("POST", base+"/"+path+"/whep", "application/sdp") }},
	}
	for _, p := range players {
		t.Run(p.name, func(t *testing.T) {
			if p.probe != nil {
				status, err := p.probe()
				require.NoError(t, err)
				require.NotEqual(t, http.StatusNotFound, status, "%s endpoint must be served", p.name)
			}
			res := runBrowser(t, root, script, base, p.proto, path, artifacts)
			t.Logf("%s: advanced %.1f s (started after %.1f s), latency %s, bitrate %s, %dx%d, screenshot %s",
				p.name, res.Advanced, res.StartedAfter, res.ShownLatency, res.ShownBitrate, res.Width, res.Height, res.Screenshot)
			for _, e := range res.Errors {
				if !e.Fatal {
					t.Logf("%s: player warning: %s", p.name, e.Message)
				}
			}
			require.Empty(t, res.PageErrors, "JavaScript exceptions on the player page")
			require.Empty(t, res.FatalErrors, "player errors shown on the page")
			if p.proto == "flv" || p.proto == "wsflv" {
				require.Empty(t, res.Errors, "player errors shown on the page")
			}
			require.Empty(t, res.Error)
			require.GreaterOrEqual(t, res.Advanced, 5.0, "video.currentTime must advance by 5 s")
			require.True(t, res.OK, "real-time playback: %.1f s of media in %.1f s of wall clock", res.Advanced, res.WallSeconds)
			require.Equal(t, [2]int{640, 360}, [2]int{res.Width, res.Height})
			if p.proto == "flv" || p.proto == "wsflv" {
				// FLV carries no server clock: the page says so rather than
				// passing the buffer length off as latency.
				require.Nil(t, res.Latency, "FLV latency is not measurable")
				require.Equal(t, "not measured", res.ShownLatency)
			} else {
				require.NotNil(t, res.Latency, "latency readout")
				require.Less(t, *res.Latency, 10.0, "latency readout in seconds")
			}
			require.NotNil(t, res.Bitrate, "bitrate readout")
			require.Greater(t, *res.Bitrate, 50.0, "bitrate readout in kbit/s")
			require.FileExists(t, res.Screenshot)
			if p.proto == "whep" {
				require.NotNil(t, res.WebRTC, "getStats readout")
				t.Logf("WHEP getStats: %.0f frames decoded, %.0f audio samples received", res.WebRTC.FramesDecoded, res.WebRTC.AudioSamples)
				require.Greater(t, res.WebRTC.FramesDecoded, 100.0, "video frames decoded (getStats)")
				require.Greater(t, res.WebRTC.AudioSamples, 3*48000.0, "audio samples received (getStats): the AAC source is bridged to Opus")
			}
		})
	}

	t.Run("dashboard", func(t *testing.T) {
		res := runBrowser(t, root, script, base, "dashboard", path, artifacts)
		t.Logf("dashboard card: %q (preview %v), screenshot %s", res.Card, res.Preview, res.Screenshot)
		require.Empty(t, res.PageErrors, "JavaScript exceptions on the dashboard")
		require.True(t, res.Listed, "dashboard lists %s: %s", path, res.Error)
		require.True(t, res.Preview, "the card shows the stream's thumbnail (GET /%s.jpg)", path)
		for _, want := range []string{path, "H.264", "AAC", "640×360", "Play", "FLV", "WS-FLV", "LL-HLS", "DASH", "WHEP"} {
			require.Contains(t, res.Card, want)
		}
		require.FileExists(t, res.Screenshot)
	})
}

// repoRoot is the module root (two levels above this file).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	require.NoError(t, err)
	return root
}

func httpGet(t *testing.T, url string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// probeStatus returns the status of one request (an empty body), waiting
// at most 5 s for the answer headers.
func probeStatus(method, url, contentType string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, url, err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// runBrowser runs web/test/player.mjs (see startBrowserScript) and
// returns its result.
func runBrowser(t *testing.T, root, script, base, proto, path, artifacts string) browserResult {
	t.Helper()
	const timeout = 25 // seconds, inside the script
	var res browserResult
	runBrowserScript(t, root, script, (timeout+15)*time.Second, &res, "--base", base, "--proto", proto, "--path", path,
		"--out", artifacts, "--seconds", "5", "--timeout", strconv.Itoa(timeout))
	return res
}
