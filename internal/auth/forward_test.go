package auth

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/config"
)

// An allowing on_publish answer {"forward": [...]} hands its targets to
// OnForward, also when the answer comes from the cache; on_play answers
// and other bodies add nothing.
func TestHookAnswerAddsForwardTargets(t *testing.T) {
	answer := `{"forward": ["rtmp://a.example/live/{name}", "rtmp://b.example/x"]}`
	var calls atomic.Int32
	srv := hookServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path == "/plain" {
			_, _ = w.Write([]byte("ok"))
			return
		}
		_, _ = w.Write([]byte(answer))
	})
	cfg, err := config.Defaults()
	require.NoError(t, err)
	cfg.Hooks.OnPublish = srv.URL + "/pub"
	cfg.Hooks.OnPlay = srv.URL + "/play"
	cfg.Hooks.Cache = config.Duration{Duration: time.Minute}
	cfg.Paths = map[string]config.PathConfig{"plain/*": {Hooks: &config.PathHooksConfig{OnPublish: srv.URL + "/plain"}}}
	require.NoError(t, cfg.Validate())
	var mu sync.Mutex
	got := map[string][]string{}
	a, err := New(Options{Config: cfg, Logger: quiet, OnForward: func(path string, targets []string) {
		mu.Lock()
		got[path] = append(got[path], targets...)
		mu.Unlock()
	}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	ctx := context.Background()

	require.NoError(t, a.Authorize(ctx, pub("live/cam1", "")))
	require.Equal(t, []string{"rtmp://a.example/live/{name}", "rtmp://b.example/x"}, got["live/cam1"])
	require.NoError(t, a.Authorize(ctx, pub("live/cam1", "")), "cached")
	require.EqualValues(t, 1, calls.Load(), "the second publish is answered from the cache")
	require.Len(t, got["live/cam1"], 4, "a cached answer adds its targets too")

	require.NoError(t, a.Authorize(ctx, play("live/cam2", "")))
	require.NoError(t, a.Authorize(ctx, pub("plain/cam3", "")))
	require.Empty(t, got["live/cam2"], "on_play answers add no targets")
	require.Empty(t, got["plain/cam3"], "a body that is not the JSON answer adds nothing")
}
