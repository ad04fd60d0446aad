package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ClipOptions shape a generated H.264 + AAC FLV clip.
type ClipOptions struct {
	Size     string        // default 320x240
	Rate     int           // default 25 fps
	GOP      int           // frames, default 2*Rate
	Bitrate  string        // default 500k
	Duration time.Duration // default 4 s
}

var (
	clipMu    sync.Mutex
	clipCache = map[ClipOptions]string{}
)

// MakeClip encodes testsrc2 + sine into an FLV file with ffmpeg and returns
// its path. Identical options share one file per test binary.
func MakeClip(t testing.TB, o ClipOptions) string {
	t.Helper()
	if o.Size == "" {
		o.Size = "320x240"
	}
	if o.Rate == 0 {
		o.Rate = 25
	}
	if o.GOP == 0 {
		o.GOP = 2 * o.Rate
	}
	if o.Bitrate == "" {
		o.Bitrate = "500k"
	}
	if o.Duration == 0 {
		o.Duration = 4 * time.Second
	}
	clipMu.Lock()
	defer clipMu.Unlock()
	if p, ok := clipCache[o]; ok {
		return p
	}
	RequireTool(t, "ffmpeg")
	dir, err := os.MkdirTemp("", "sluice-clip-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "clip.flv")
	secs := strconv.FormatFloat(o.Duration.Seconds(), 'f', 3, 64)
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", o.Size, o.Rate),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", secs,
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-bf", "0",
		"-b:v", o.Bitrate, "-minrate", o.Bitrate, "-maxrate", o.Bitrate, "-bufsize", o.Bitrate,
		"-x264-params", "nal-hrd=cbr",
		"-g", strconv.Itoa(o.GOP), "-keyint_min", strconv.Itoa(o.GOP), "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "64k", "-ac", "2",
		"-f", "flv", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make clip: %v\n%s", err, b)
	}
	clipCache[o] = out
	return out
}
