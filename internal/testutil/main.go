package testutil

import (
	"os"
	"sync"
	"testing"
)

var (
	sharedMu   sync.Mutex
	sharedDirs []string
)

// sharedTempDir makes a directory that outlives one test (built binaries,
// cached clips) and is removed by Main when the test binary ends.
func sharedTempDir(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	sharedMu.Lock()
	sharedDirs = append(sharedDirs, dir)
	sharedMu.Unlock()
	return dir, nil
}

// Main runs the package's tests and then removes the shared temporary
// directories. Use it as: func TestMain(m *testing.M) { testutil.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	sharedMu.Lock()
	for _, d := range sharedDirs {
		os.RemoveAll(d)
	}
	sharedMu.Unlock()
	os.Exit(code)
}
