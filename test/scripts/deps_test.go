// Package scripts tests the shell scripts under scripts/ with fake system
// tools on PATH (no package is installed, nothing outside a temp dir is
// touched).
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeSystem is a PATH of its own: the few real tools deps.sh uses, and
// fakes of node, npm, apt-cache, apt-get, sudo and id that report what the
// test case says and log what they were asked to do.
type fakeSystem struct {
	dir, log string
}

func newFakeSystem(t *testing.T, node, aptCandidate string, npm bool) *fakeSystem {
	t.Helper()
	dir := t.TempDir()
	f := &fakeSystem{dir: dir, log: filepath.Join(dir, "calls.log")}
	for _, tool := range []string{"bash", "sort", "head", "awk", "sed", "cat", "chmod"} {
		real, err := exec.LookPath(tool)
		require.NoError(t, err, tool)
		require.NoError(t, os.Symlink(real, filepath.Join(dir, tool)))
	}
	script := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755))
	}
	logCall := `echo "${0##*/} $*" >> ` + f.log
	if node != "" {
		script("node", logCall+"\necho "+node)
	}
	if npm {
		script("npm", logCall)
	}
	script("apt-cache", logCall+"\necho 'nodejs:'\necho '  Installed: (none)'\necho '  Candidate: "+aptCandidate+"'")
	script("apt-get", logCall)
	script("sudo", logCall+"\nexec \"$@\"")
	script("id", "echo 1000")
	return f
}

// run runs scripts/deps.sh web and returns its exit code, its stderr and
// the fakes' call log.
func (f *fakeSystem) run(t *testing.T) (int, string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(f.dir, "bash"), filepath.Join("..", "..", "scripts", "deps.sh"), "web")
	cmd.Env = []string{"PATH=" + f.dir, "HOME=" + f.dir}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	calls, _ := os.ReadFile(f.log)
	return code, stderr.String(), string(calls)
}

// Debian 12's Node.js 18 is refused with what to do, and Debian's package
// is not installed in its place: the npm packages need Node.js >= 20.9.
func TestDepsRefusesOldNode(t *testing.T) {
	for _, c := range []struct {
		name, node, apt string
		npm             bool
		want            string
	}{
		{"old node installed", "18.19.0", "18.19.0+dfsg-6~deb12u2", true, "Node.js 18.19.0 is too old, and apt's nodejs is 18.19.0"},
		{"no node, apt too old", "", "18.19.0+dfsg-6~deb12u2", false, "Node.js is not installed, and apt's nodejs is 18.19.0"},
		{"no node, no apt package", "", "(none)", false, "Node.js is not installed, and apt has no nodejs package"},
		{"20.8 is not enough", "20.8.1", "18.19.0+dfsg-6~deb12u2", true, "Node.js 20.8.1 is too old"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stderr, calls := newFakeSystem(t, c.node, c.apt, c.npm).run(t)
			require.Equal(t, 1, code, "exit code; stderr:\n%s", stderr)
			require.Contains(t, stderr, c.want)
			require.Contains(t, stderr, "Node.js >= 20.9.0")
			require.Contains(t, stderr, "https://github.com/nodesource/distributions")
			require.NotContains(t, calls, "apt-get install", "Debian's too old nodejs must not be installed")
		})
	}
}

// A recent enough Node.js with npm needs nothing; a missing one is
// installed from apt when apt's is recent enough (Debian 13: 20.19).
func TestDepsNodeOKOrInstallable(t *testing.T) {
	code, stderr, calls := newFakeSystem(t, "22.12.0", "18.19.0+dfsg-6~deb12u2", true).run(t)
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, calls, "apt-get")

	code, stderr, calls = newFakeSystem(t, "20.9.0", "", true).run(t)
	require.Equal(t, 0, code, "exactly the minimum: %s", stderr)
	require.NotContains(t, calls, "apt-get")

	f := newFakeSystem(t, "", "20.19.2+dfsg-1", false)
	// apt-get "installs" node 20.19.2 and npm.
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "apt-get"), []byte("#!/bin/sh\necho \"apt-get $*\" >> "+f.log+
		"\ncase \"$*\" in *install*) printf '#!/bin/sh\\necho 20.19.2\\n' > "+f.dir+"/node; printf '#!/bin/sh\\n' > "+f.dir+"/npm; chmod +x "+f.dir+"/node "+f.dir+"/npm;; esac\n"), 0o755))
	code, stderr, calls = f.run(t)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, calls, "sudo apt-get install -y -qq nodejs npm")
}
