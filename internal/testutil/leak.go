package testutil

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// CheckGoroutines fails the test if, at its end (after later-registered
// cleanups such as server shutdown have run), more goroutines are alive than
// when it was called. Call it first in a test.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: %d goroutines before, %d after\n%s", before, n, trimStacks(string(buf)))
		}
	})
}

func trimStacks(s string) string {
	if len(s) > 16<<10 {
		return s[:16<<10] + "\n…"
	}
	return strings.TrimSpace(s)
}
