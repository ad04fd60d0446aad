package arch

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The server builds for every platform Go's networking serves, not only
// Linux: platform-specific fast paths (netutil.TryWriter's writev) sit
// behind build tags with a portable fallback. Cross-compiling the binary
// keeps it so; a Linux-only call without a tag fails here, not on a user's
// Mac.
func TestServerBuildsOnOtherPlatforms(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the server")
	}
	for _, target := range []struct{ goos, goarch string }{
		{"darwin", "arm64"},
		{"windows", "amd64"},
		{"freebsd", "amd64"},
	} {
		t.Run(target.goos+"_"+target.goarch, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "sluice")
			cmd := exec.Command("go", "build", "-o", out, module+"cmd/sluice")
			cmd.Env = append(os.Environ(), "GOOS="+target.goos, "GOARCH="+target.goarch, "CGO_ENABLED=0")
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s go build ./cmd/sluice: %v\n%s", target.goos, target.goarch, err, msg)
			}
		})
	}
}
