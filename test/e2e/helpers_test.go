// Package e2e holds black-box tests: the sluice binary driven by real
// clients (ffmpeg, ffprobe, our RTMP client, HTTP and WebSocket FLV readers).
package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// waitForStream polls HTTP-FLV until the stream at path answers 200 (its
// publisher announced its tracks), or fails the test.
func waitForStream(t *testing.T, s *testutil.Sluice, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.HTTPAddr+"/"+path+".flv", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			cancel()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			cancel()
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("stream %s not playable within 20s; last answer: %s", path, last)
}

// publishWithAudio publishes to path with ffmpeg (in real time): H.264
// test pattern (320x240, 25 fps, a keyframe every 2 s) and a 440 Hz sine
// at sampleRate Hz encoded with the ffmpeg arguments audio; it returns
// once the stream plays.
func publishWithAudio(t *testing.T, s *testutil.Sluice, path string, sampleRate int, audio ...string) {
	t.Helper()
	args := []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=%d", sampleRate),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "50", "-pix_fmt", "yuv420p"}
	args = append(append(args, audio...), "-f", "flv", "rtmp://"+s.RTMPAddr+"/"+path)
	testutil.Start(t, "ffmpeg", args...)
	waitForStream(t, s, path)
}

// flvTagStream reads an FLV byte stream tag by tag.
type flvTagStream struct {
	r    *flv.Reader
	body io.Closer
}

func openHTTPFLV(t *testing.T, ctx context.Context, url string) (*flvTagStream, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "video/x-flv" {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: Content-Type %q, want video/x-flv", url, ct)
	}
	r := flv.NewReader(resp.Body, 16<<20)
	if _, _, err := r.ReadHeader(); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("FLV header: %w", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &flvTagStream{r: r, body: resp.Body}, nil
}
