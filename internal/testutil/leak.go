package testutil

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// knownLibraryLeaks are goroutines a pinned library leaves behind through
// a race of its own, which no caller can prevent: gosrt's dialer reader
// (dial.go, DialWithContext.func1) reports its end on an unbuffered
// channel that dialer.Close drains only if the send already happened, so
// now and then, under load, a closed client connection leaves it blocked
// on that send for good. One per closed SRT client connection at most.
var knownLibraryLeaks = []string{
	"github.com/datarhei/gosrt.DialWithContext.func1",
}

// CheckGoroutines fails the test if, at its end (after later-registered
// cleanups such as server shutdown have run), more goroutines are alive than
// when it was called (the knownLibraryLeaks not counted). Call it first in
// a test.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	before, _ := countGoroutines()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		n, stacks := countGoroutines()
		for n > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			n, stacks = countGoroutines()
		}
		if n > before {
			t.Errorf("goroutine leak: %d goroutines before, %d after\n%s", before, n, trimStacks(stacks))
		}
	})
}

// countGoroutines returns the number of live goroutines that are not
// knownLibraryLeaks, and every goroutine's stack.
func countGoroutines() (int, string) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	stacks := string(buf)
	count := 0
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.TrimSpace(g) == "" || isKnownLibraryLeak(g) {
			continue
		}
		count++
	}
	return count, stacks
}

func isKnownLibraryLeak(stack string) bool {
	if !strings.Contains(stack, "[chan send") {
		return false
	}
	for _, fn := range knownLibraryLeaks {
		if strings.Contains(stack, fn+"()") {
			return true
		}
	}
	return false
}

func trimStacks(s string) string {
	if len(s) > 16<<10 {
		return s[:16<<10] + "\n…"
	}
	return strings.TrimSpace(s)
}
