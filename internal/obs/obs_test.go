package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger("info", "text", &buf)
	require.NoError(t, err)
	l.Debug("hidden")
	l.Info("shown", "path", "live/cam1")
	require.NotContains(t, buf.String(), "hidden")
	require.Contains(t, buf.String(), "msg=shown path=live/cam1")

	buf.Reset()
	l, err = NewLogger("DEBUG", "json", &buf)
	require.NoError(t, err)
	l.Debug("dbg", "n", 1)
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
	require.Equal(t, "dbg", m["msg"])
	require.Equal(t, "DEBUG", m["level"])

	buf.Reset()
	l, err = NewLogger("error", "text", &buf)
	require.NoError(t, err)
	l.Warn("no")
	require.Empty(t, buf.String())
}

func TestNewLoggerErrors(t *testing.T) {
	_, err := NewLogger("verbose", "text", &bytes.Buffer{})
	require.ErrorContains(t, err, `unknown log level "verbose"`)
	_, err = NewLogger("info", "xml", &bytes.Buffer{})
	require.ErrorContains(t, err, `unknown log format "xml"`)
	_, err = NewLogger(strings.Repeat("x", 1000), "text", &bytes.Buffer{})
	require.Less(t, len(err.Error()), 200)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRateLimiter(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := NewRateLimiter(time.Second)
	r.now = clk.now

	ok, n := r.Allow("a")
	require.True(t, ok)
	require.Zero(t, n)
	for range 5 {
		ok, _ = r.Allow("a")
		require.False(t, ok)
	}
	// Another key is independent.
	ok, _ = r.Allow("b")
	require.True(t, ok)

	clk.advance(999 * time.Millisecond)
	ok, _ = r.Allow("a")
	require.False(t, ok)

	clk.advance(time.Millisecond)
	ok, n = r.Allow("a")
	require.True(t, ok)
	require.Equal(t, 6, n, "suppressed since the last allowed event")
	require.Equal(t, uint64(6), r.Suppressed())

	clk.advance(time.Second)
	ok, n = r.Allow("a")
	require.True(t, ok)
	require.Zero(t, n)
}

func TestRateLimiterZeroValue(t *testing.T) {
	var r RateLimiter
	ok, _ := r.Allow("k")
	require.True(t, ok)
	ok, _ = r.Allow("k")
	require.False(t, ok, "default interval is 10s")
}

func TestRateLimiterBoundsKeys(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := &RateLimiter{Interval: time.Second, now: clk.now}
	for i := range maxRateKeys {
		r.Allow(fmt.Sprint(i))
	}
	clk.advance(time.Second)
	r.Allow("new")
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Len(t, r.keys, 1)
}

func TestRateLimiterLog(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := &RateLimiter{Interval: time.Minute, now: clk.now}
	var buf bytes.Buffer
	l, err := NewLogger("info", "text", &buf)
	require.NoError(t, err)
	ctx := context.Background()

	require.True(t, r.Log(ctx, l, slog.LevelWarn, "drop", "viewer dropped", "path", "live/x"))
	require.False(t, r.Log(ctx, l, slog.LevelWarn, "drop", "viewer dropped", "path", "live/x"))
	require.False(t, r.Log(ctx, l, slog.LevelWarn, "drop", "viewer dropped", "path", "live/x"))
	clk.advance(time.Minute)
	require.True(t, r.Log(ctx, l, slog.LevelWarn, "drop", "viewer dropped", "path", "live/x"))

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	require.NotContains(t, lines[0], "suppressed")
	require.Contains(t, lines[1], "path=live/x suppressed=2")
}

func TestRateLimiterConcurrent(t *testing.T) {
	r := NewRateLimiter(time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				if ok, _ := r.Allow(fmt.Sprint(i % 10)); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 10, allowed)
	require.Equal(t, uint64(8000-10), r.Suppressed())
}
