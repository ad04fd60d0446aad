package testutil

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Encoder arguments of StartLiveHLS's sources: 1 s GOPs (at 25 fps) with
// 2 B-frames.
var (
	LiveHLSH264AAC  = []string{"-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-b:v", "400k", "-c:a", "aac", "-b:a", "64k"}
	LiveHLSH265Opus = []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=none:bframes=2",
		"-tag:v", "hvc1", "-b:v", "300k", "-c:a", "libopus", "-b:a", "64k"}
)

// StartLiveHLS runs ffmpeg writing a live HLS playlist (1 s segments, a
// window of 5, old segments deleted) of a 320x240 test pattern and a sine
// tone, encoded with encoder, into a temp dir served over HTTP on an
// ephemeral loopback port; extra goes to ffmpeg's hls muxer (e.g.
// "-hls_segment_type", "fmp4"). It returns the playlist URL once the
// playlist holds enough segments for a client to join 3 from the end,
// and the server (closing it takes the source away). Both stop when the
// test ends.
func StartLiveHLS(t testing.TB, encoder []string, extra ...string) (string, *http.Server) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}
	args = append(args, encoder...)
	args = append(args, "-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-ac", "2",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "5", "-hls_flags", "delete_segments")
	args = append(args, extra...)
	args = append(args, filepath.Join(dir, "index.m3u8"))
	ff := Start(t, "ffmpeg", args...)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "index.m3u8"))
		if strings.Count(string(b), "#EXTINF") >= 4 {
			break
		}
		select {
		case <-ff.Done():
			t.Fatalf("ffmpeg exited: %s", ff.Stderr())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ffmpeg wrote no 4-segment playlist within 30 s: %q\n%s", b, ff.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "http://" + ln.Addr().String() + "/index.m3u8", srv
}
