package testutil

import (
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// ClipOptions shape a generated clip; Duration defaults to 4 s.
type ClipOptions = Pattern

var (
	clipMu    sync.Mutex
	clipCache = map[ClipOptions]string{}
)

// MakeClip encodes the test pattern into an FLV file with ffmpeg and returns
// its path. Identical options share one file per test binary.
func MakeClip(t testing.TB, o ClipOptions) string {
	t.Helper()
	o = o.withDefaults()
	if o.Duration == 0 {
		o.Duration = 4 * time.Second
	}
	clipMu.Lock()
	defer clipMu.Unlock()
	if p, ok := clipCache[o]; ok {
		return p
	}
	RequireTool(t, "ffmpeg")
	dir, err := sharedTempDir("sluice-clip-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "clip.flv")
	args := append([]string{"-hide_banner", "-loglevel", "error", "-y"}, o.args()...)
	args = append(args, "-f", "flv", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("make clip: %v\n%s", err, b)
	}
	clipCache[o] = out
	return out
}
