package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestBenchSmoke runs cmd/sluice-bench briefly against the binary for both
// fan-out protocols: every viewer connects, keeps up, and latency and the
// server's CPU/RSS are reported.
func TestBenchSmoke(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bench := filepath.Join(t.TempDir(), "sluice-bench")
	out, err := exec.Command("go", "build", "-o", bench, filepath.Join(root, "cmd", "sluice-bench")).CombinedOutput()
	require.NoError(t, err, "%s", out)

	s := testutil.StartSluice(t, nil)
	clip := testutil.MakeClip(t, testutil.ClipOptions{})
	for _, play := range []string{"http://" + s.HTTPAddr + "/live/bench.flv", "rtmp://" + s.RTMPAddr + "/live/bench2"} {
		publish := "rtmp://" + s.RTMPAddr + "/live/bench"
		if play[:4] == "rtmp" {
			publish = play
		}
		res := filepath.Join(t.TempDir(), "result.json")
		cmd := exec.Command(bench, "-clip", clip, "-rtmp", publish, "-play", play, "-viewers", "5",
			"-warmup", "2s", "-duration", "3s", "-pid", strconv.Itoa(s.Cmd.Process.Pid), "-json", res)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "sluice-bench: %s", out)
		b, err := os.ReadFile(res)
		require.NoError(t, err)
		var r struct {
			Connected       int     `json:"connected"`
			Failed          int     `json:"failed"`
			FallingBehind   int     `json:"falling_behind"`
			LatencyMedianMS float64 `json:"latency_median_ms"`
			ServerRSSPeakMB float64 `json:"server_rss_peak_mb"`
		}
		require.NoError(t, json.Unmarshal(b, &r))
		require.Equal(t, 5, r.Connected, "%s: %s", play, b)
		require.Zero(t, r.Failed, "%s: %s", play, b)
		require.Zero(t, r.FallingBehind, "%s: %s", play, b)
		require.Greater(t, r.LatencyMedianMS, 0.0, "%s: latency measured", play)
		require.Less(t, r.LatencyMedianMS, 500.0, "%s: latency on loopback", play)
		require.Greater(t, r.ServerRSSPeakMB, 1.0, "%s: server RSS read from /proc", play)
	}

	// LL-HLS fetchers: real playlist polling with blocking reloads and part
	// fetches, latency from the parsed fMP4 sample times.
	res := filepath.Join(t.TempDir(), "hls.json")
	cmd := exec.Command(bench, "-clip", clip, "-rtmp", "rtmp://"+s.RTMPAddr+"/live/benchhls",
		"-play", "http://"+s.HTTPAddr+"/live/benchhls.m3u8", "-proto", "hls", "-viewers", "3",
		"-warmup", "3s", "-duration", "4s", "-pid", strconv.Itoa(s.Cmd.Process.Pid), "-json", res)
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "sluice-bench hls: %s", out)
	b, err := os.ReadFile(res)
	require.NoError(t, err)
	var r struct {
		HLSMode            string  `json:"hls_mode"`
		Connected          int     `json:"connected"`
		Failed             int     `json:"failed"`
		ReceivedRatioMin   float64 `json:"received_ratio_min"`
		LatencyMedianMS    float64 `json:"latency_median_ms"`
		LatencyP99MS       float64 `json:"latency_p99_ms"`
		FirstFrameMedianMS float64 `json:"first_frame_median_ms"`
	}
	require.NoError(t, json.Unmarshal(b, &r))
	require.Equal(t, "ll-hls fmp4", r.HLSMode, "%s", b)
	require.Equal(t, 3, r.Connected, "%s", b)
	require.Zero(t, r.Failed, "%s", b)
	require.Greater(t, r.FirstFrameMedianMS, 0.0, "frames received: %s", b)
	require.Greater(t, r.ReceivedRatioMin, 0.5, "media bytes received: %s", b)
	require.Greater(t, r.LatencyMedianMS, 0.0, "latency measured: %s", b)
	// Parts are 200 ms: a frame waits at most one part plus the fetch.
	require.Less(t, r.LatencyP99MS, 2000.0, "latency on loopback: %s", b)
}
