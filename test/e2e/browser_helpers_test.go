//go:build unix

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// requireChromium fails (never skips) the test unless node,
// /usr/bin/chromium, playwright-core (make web) and every file of extra
// (relative to root) are there: `make test` installs them all.
func requireChromium(t *testing.T, root string, extra ...string) {
	t.Helper()
	testutil.RequireTool(t, "node")
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatalf("/usr/bin/chromium not found: install it (make deps / .ci/run does apt-get install chromium)")
	}
	if _, err := os.Stat(filepath.Join(root, "web", "node_modules", "playwright-core")); err != nil {
		t.Fatalf("web/node_modules/playwright-core not found: run make web (npm ci in web/)")
	}
	for _, f := range extra {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Fatalf("%s not found: run make web", f)
		}
	}
}

// requireBrowserTools is requireChromium for the player page: the vendored
// player libraries must be built into sluice too. It returns the path of
// web/test/player.mjs.
func requireBrowserTools(t *testing.T, root string) string {
	t.Helper()
	requireChromium(t, root)
	for _, f := range []string{"mpegts.js", "hls.min.js", "dash.all.min.js"} {
		if _, err := os.Stat(filepath.Join(root, "internal", "web", "static", "vendor", f)); err != nil {
			t.Fatalf("internal/web/static/vendor/%s not found: run make web before building sluice", f)
		}
	}
	return filepath.Join(root, "web", "test", "player.mjs")
}

// artifactsDir returns the directory for screenshots, $SLUICE_ARTIFACTS
// (default root/artifacts) as an absolute path, made if missing.
func artifactsDir(t *testing.T, root string) string {
	t.Helper()
	artifacts := os.Getenv("SLUICE_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(root, "artifacts")
	}
	artifacts, _ = filepath.Abs(artifacts)
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	return artifacts
}

// browserScript is one run of a browser check of web/test (node SCRIPT
// ARGS --profile DIR), in a process group of its own.
type browserScript struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	done   chan error
	stderr bytes.Buffer
	stdout bytes.Buffer // read once done has answered
	last   string
	stop   func()
}

// startBrowserScript starts script (a path) with args and a fresh
// --profile, killed after limit. onEvent, if set, is called with every
// line of stdout it claims (returns true for); the last other non-empty
// line is the script's result. The process group, and any Chromium left on
// the profile (it may run in a process group of its own), are killed when
// the script is waited for or the test ends.
func startBrowserScript(t *testing.T, root, script string, limit time.Duration, onEvent func(line string) bool, args ...string) *browserScript {
	t.Helper()
	profile, err := os.MkdirTemp("", "sluice-chromium-")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, "node", append(append([]string{script}, args...), "--profile", profile)...)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	b := &browserScript{t: t, name: filepath.Base(script), cmd: cmd, done: make(chan error, 1)}
	cmd.Stderr = &b.stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var once sync.Once
	b.stop = func() {
		once.Do(func() {
			cancel()
			if cmd.Process != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			killByArg(profile)
			_ = os.RemoveAll(profile)
		})
	}
	t.Cleanup(b.stop)
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if onEvent != nil && onEvent(line) {
				continue
			}
			b.stdout.WriteString(line + "\n")
			if line != "" {
				b.last = line
			}
		}
		b.done <- cmd.Wait() // after every read of out, as os/exec asks
	}()
	return b
}

// runBrowserScript runs script to its end and decodes its result into
// res; see startBrowserScript and browserScript.result.
func runBrowserScript(t *testing.T, root, script string, limit time.Duration, res any, args ...string) string {
	t.Helper()
	return startBrowserScript(t, root, script, limit, nil, args...).result(res)
}

// result waits for the script, kills what is left of it and decodes its
// result line into res, or fails the test with its output. A run that
// exited with an error (the check did not pass) is logged; the caller
// asserts on res. It returns the result line.
func (b *browserScript) result(res any) string {
	b.t.Helper()
	runErr := <-b.done
	b.stop()
	if err := json.Unmarshal([]byte(b.last), res); err != nil {
		b.t.Fatalf("%s %s: %v (run: %v)\nstdout: %s\nstderr: %s", b.name, strings.Join(b.cmd.Args[2:], " "), err, runErr, b.stdout.String(), b.stderr.String())
	}
	if runErr != nil {
		b.t.Logf("%s: %v\nresult: %s\nstderr: %s", b.name, runErr, b.last, b.stderr.String())
	}
	return b.last
}

// killByArg SIGKILLs every process whose command line contains arg (a
// unique temporary directory this test made), so no browser outlives it.
func killByArg(arg string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(arg)) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
