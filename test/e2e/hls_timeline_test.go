package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestHLSPartLayoutAndAudioDurations publishes ffmpeg's 30 fps, 2 s-GOP
// stream with 44.1 kHz AAC over RTMP (millisecond timestamps) and reads the
// default LL-HLS playlist and a segment: every complete segment is ten
// 200 ms parts (old main: 167 ms, eight of 200 ms and a 33 ms runt, on
// which hls.js stalled), no part exceeds PART-TARGET, and every AAC sample
// lasts 1024 ticks (old main: 1014/1058 from rounded milliseconds).
func TestHLSPartLayoutAndAudioDurations(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	const path = "live/grid"
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/"+path, testutil.PublishOptions{Pattern: testutil.Pattern{Rate: 30}})
	waitForStream(t, s, path)
	url := "http://" + s.HTTPAddr + "/" + path + "/hls/media.m3u8"
	waitForPlaylist(t, url)

	// Wait until two complete segments list their parts (the newest two do).
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		body = getText(t, url)
		if strings.Count(body, "#EXTINF:") >= 3 || time.Now().After(deadline) {
			break
		}
		waitForPlaylistChange(t, url, body)
	}

	var parts []float64
	var segURL string
	checked := 0
	for _, line := range strings.Split(body, "\n") {
		var d float64
		switch {
		case strings.HasPrefix(line, "#EXT-X-PART:"):
			_, err := fmt.Sscanf(line, "#EXT-X-PART:DURATION=%g,", &d)
			require.NoError(t, err, line)
			parts = append(parts, d)
		case strings.HasPrefix(line, "#EXTINF:"):
			_, err := fmt.Sscanf(line, "#EXTINF:%g,", &d)
			require.NoError(t, err, line)
			if len(parts) > 0 { // a complete segment with its parts listed
				checked++
				var sum float64
				for _, p := range parts {
					require.LessOrEqual(t, p, 0.201, "part longer than PART-TARGET: %v", parts)
					require.InDelta(t, 0.2, p, 0.0015, "parts of whole frames on the grid: %v\n%s", parts, body)
					sum += p
				}
				require.Len(t, parts, 10, "2 s segment of 200 ms parts: %v", parts)
				require.InDelta(t, d, sum, 0.0005, "parts add up to the segment")
			}
			parts = nil
		case strings.HasSuffix(line, ".m4s") && !strings.HasPrefix(line, "#") && strings.Contains(line, "_seg"):
			segURL = line
		}
	}
	require.GreaterOrEqual(t, checked, 2, body)
	require.Contains(t, body, "#EXT-X-PART-INF:PART-TARGET=0.201\n", "PART-TARGET: hls.part_duration + 1 ms")

	// The newest complete segment's audio (track 2, 44.1 kHz).
	resp, err := http.Get("http://" + s.HTTPAddr + "/" + path + "/hls/" + segURL)
	require.NoError(t, err)
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, segURL)
	var ps fmp4.Parts
	require.NoError(t, ps.Unmarshal(data))
	samples := 0
	for _, p := range ps {
		for _, tr := range p.Tracks {
			if tr.ID != 2 {
				continue
			}
			for _, smp := range tr.Samples {
				samples++
				require.Equal(t, uint32(1024), smp.Duration, "AAC sample %d of %s", samples, segURL)
			}
		}
	}
	require.Greater(t, samples, 80, "2 s of 44.1 kHz AAC")
}
