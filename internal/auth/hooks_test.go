package auth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// recorder is a hook endpoint that records every body and answers status.
type recorder struct {
	mu     sync.Mutex
	bodies []map[string]any
	paths  []string
	status atomic.Int32
	delay  atomic.Int64 // nanoseconds
}

func (rec *recorder) handler(t *testing.T) http.HandlerFunc {
	rec.status.CompareAndSwap(0, http.StatusOK)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("hook got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("hook body is not JSON: %s", b)
		}
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, m)
		rec.paths = append(rec.paths, r.URL.Path)
		rec.mu.Unlock()
		if d := time.Duration(rec.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(int(rec.status.Load()))
	}
}

func (rec *recorder) calls() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.bodies)
}

func (rec *recorder) last() (string, map[string]any) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.paths[len(rec.paths)-1], rec.bodies[len(rec.bodies)-1]
}

func withHooks(h config.HooksConfig) func(*config.Config) {
	return func(c *config.Config) {
		if h.Timeout.Duration == 0 {
			h.Timeout = c.Hooks.Timeout
		}
		c.Hooks = h
	}
}

func TestHookOnPublishBodyAndAnswers(t *testing.T) {
	testutil.CheckGoroutines(t)
	rec := &recorder{}
	srv := hookServer(t, rec.handler(t))
	a := newAuth(t, nil, withHooks(config.HooksConfig{OnPublish: srv.URL + "/on_publish", OnPlay: srv.URL + "/on_play"}))
	ctx := context.Background()

	req := pub("live/cam1", "tok")
	req.Query = url.Values{"key": {"tok"}, "x": {"1", "2"}}
	require.NoError(t, a.Authorize(ctx, req))
	p, body := rec.last()
	require.Equal(t, "/on_publish", p)
	require.Equal(t, map[string]any{
		"action": "publish", "path": "live/cam1", "app": "live", "name": "cam1", "protocol": "rtmp",
		"remote": "192.0.2.7:5000", "token": "tok", "query": map[string]any{"key": "tok", "x": "1"},
	}, body)

	rec.status.Store(http.StatusForbidden)
	requireDenied(t, a.Authorize(ctx, play("live/cam1", "")), ErrForbidden, "on_play hook answered 403 Forbidden")
	p, body = rec.last()
	require.Equal(t, "/on_play", p)
	require.Equal(t, "play", body["action"])
	require.Equal(t, "http-flv", body["protocol"])
	rec.status.Store(http.StatusUnauthorized)
	requireDenied(t, a.Authorize(ctx, play("live/cam2", "")), ErrUnauthorized, "on_play hook answered 401")
	rec.status.Store(http.StatusFound)
	requireDenied(t, a.Authorize(ctx, play("live/cam3", "")), ErrForbidden, "answered 302")
}

func TestHookAfterKeys(t *testing.T) {
	rec := &recorder{}
	srv := hookServer(t, rec.handler(t))
	a := newAuth(t, map[string]config.PathConfig{"live/*": {PublishKeys: []string{"k"}}},
		withHooks(config.HooksConfig{OnPublish: srv.URL}))
	ctx := context.Background()
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", "bad")), ErrUnauthorized, "invalid key")
	require.Equal(t, 0, rec.calls(), "a client with bad credentials never reaches the hook")
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", "k")))
	require.Equal(t, 1, rec.calls())
	rec.status.Store(http.StatusForbidden)
	requireDenied(t, a.Authorize(ctx, pub("live/cam2", "k")), ErrForbidden, "on_publish hook answered 403")
}

func TestHookTimeoutDeniesUnlessFailOpen(t *testing.T) {
	testutil.CheckGoroutines(t)
	rec := &recorder{}
	rec.delay.Store(int64(2 * time.Second))
	srv := hookServer(t, rec.handler(t))
	timeout := config.D(100 * time.Millisecond)
	a := newAuth(t, map[string]config.PathConfig{
		"open/*": {Hooks: &config.PathHooksConfig{FailOpen: ptr(true)}},
	}, withHooks(config.HooksConfig{OnPublish: srv.URL, Timeout: timeout}))
	ctx := context.Background()
	start := time.Now()
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", "")), ErrForbidden, "on_publish hook failed: no answer within 100ms")
	require.Less(t, time.Since(start), time.Second)
	// fail_open (here set per path) allows when the hook does not answer...
	require.NoError(t, a.Authorize(ctx, pub("open/cam1", "")))
	// ...but not when it answers no.
	rec.delay.Store(0)
	rec.status.Store(http.StatusForbidden)
	requireDenied(t, a.Authorize(ctx, pub("open/cam1", "")), ErrForbidden, "answered 403")
	// An unreachable hook is a failure too.
	srv.Close()
	requireDenied(t, a.Authorize(ctx, pub("live/cam1", "")), ErrForbidden, "on_publish hook failed")
	require.NoError(t, a.Authorize(ctx, pub("open/cam1", "")))
}

func ptr[T any](v T) *T { return &v }

func TestHookCache(t *testing.T) {
	rec := &recorder{}
	srv := hookServer(t, rec.handler(t))
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg, err := config.Defaults()
	require.NoError(t, err)
	cfg.Hooks.OnPublish = srv.URL
	cfg.Paths = map[string]config.PathConfig{"nocache/*": {Hooks: &config.PathHooksConfig{Cache: config.D(-1)}}}
	a, err := New(Options{Config: cfg, Logger: quiet, Now: clock})
	require.NoError(t, err)
	defer a.Close()
	ctx := context.Background()

	r1 := pub("live/cam1", "t1")
	require.NoError(t, a.Authorize(ctx, r1))
	require.NoError(t, a.Authorize(ctx, r1))
	require.Equal(t, 1, rec.calls(), "the allow is cached (default 5s)")
	r1.Remote = "192.0.2.7:5999" // same IP, other port: same client
	require.NoError(t, a.Authorize(ctx, r1))
	require.Equal(t, 1, rec.calls())
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", "t2")))
	require.Equal(t, 2, rec.calls(), "another token is asked")
	require.NoError(t, a.Authorize(ctx, pub("live/cam2", "t1")))
	require.Equal(t, 3, rec.calls(), "another path is asked")
	other := pub("live/cam1", "t1")
	other.Remote = "198.51.100.1:5000"
	require.NoError(t, a.Authorize(ctx, other))
	require.Equal(t, 4, rec.calls(), "another IP is asked")

	mu.Lock()
	now = now.Add(6 * time.Second)
	mu.Unlock()
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", "t1")))
	require.Equal(t, 5, rec.calls(), "an expired allow is asked again")

	// Denials are never cached.
	rec.status.Store(http.StatusForbidden)
	requireDenied(t, a.Authorize(ctx, pub("live/cam9", "t1")), ErrForbidden, "403")
	rec.status.Store(http.StatusOK)
	require.NoError(t, a.Authorize(ctx, pub("live/cam9", "t1")))
	require.Equal(t, 7, rec.calls())
}

func TestAllowCacheBounded(t *testing.T) {
	c := newAllowCache(3)
	now := time.Unix(0, 0)
	for i := range 10 {
		c.put(cacheKey{path: string(rune('a' + i))}, cacheEntry{exp: now.Add(time.Minute)}, now)
		require.LessOrEqual(t, len(c.entries), 3)
	}
	_, ok := c.allowed(cacheKey{path: "j"}, now)
	require.True(t, ok)
	_, ok = c.allowed(cacheKey{path: "j"}, now.Add(time.Minute))
	require.False(t, ok)
}

func TestNotifications(t *testing.T) {
	testutil.CheckGoroutines(t)
	rec := &recorder{}
	srv := hookServer(t, rec.handler(t))
	cfg, err := config.Defaults()
	require.NoError(t, err)
	cfg.Hooks.OnUnpublish = srv.URL + "/on_unpublish"
	cfg.Hooks.OnStop = srv.URL + "/on_stop"
	a, err := New(Options{Config: cfg, Logger: quiet})
	require.NoError(t, err)

	a.Ended(pub("live/cam1", "tok"))
	require.Eventually(t, func() bool { return rec.calls() == 1 }, 5*time.Second, 10*time.Millisecond)
	p, body := rec.last()
	require.Equal(t, "/on_unpublish", p)
	require.Equal(t, "unpublish", body["action"])
	require.Equal(t, "live/cam1", body["path"])
	require.Equal(t, "tok", body["token"])

	a.Ended(play("live/cam1", ""))
	require.Eventually(t, func() bool { return rec.calls() == 2 }, 5*time.Second, 10*time.Millisecond)
	p, body = rec.last()
	require.Equal(t, "/on_stop", p)
	require.Equal(t, "stop", body["action"])
	require.Equal(t, "http-flv", body["protocol"])
	require.NoError(t, a.Close())
	a.Ended(pub("live/cam1", "")) // after Close: dropped, no panic
}

func TestNotificationsNeverBlock(t *testing.T) {
	testutil.CheckGoroutines(t)
	release := make(chan struct{})
	srv := hookServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	cfg, err := config.Defaults()
	require.NoError(t, err)
	cfg.Hooks.OnStop = srv.URL
	cfg.Hooks.Timeout = config.D(10 * time.Second)
	a, err := New(Options{Config: cfg, Logger: quiet})
	require.NoError(t, err)
	start := time.Now()
	for range notifyWorkers + notifyQueue + 500 {
		a.Ended(play("live/cam1", ""))
	}
	require.Less(t, time.Since(start), time.Second, "Ended never waits for a hook")
	a.notifier.mu.Lock()
	dropped := a.notifier.dropped
	a.notifier.mu.Unlock()
	require.GreaterOrEqual(t, dropped, 500)
	// Close gives up on the stuck hook after the drain time.
	start = time.Now()
	require.NoError(t, a.Close())
	require.Less(t, time.Since(start), notifyDrain+2*time.Second)
}
