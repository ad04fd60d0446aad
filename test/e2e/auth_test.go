package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// writeConfig writes a sluice config file into the test's temp dir.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sluice.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

// httpStatus GETs url (with optional header k, v) and returns the status
// and the start of the body.
func httpStatus(t *testing.T, url string, hdr ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b := make([]byte, 512)
	n, _ := io.ReadAtLeast(resp.Body, b, 1)
	return resp.StatusCode, string(b[:n])
}

// rtmpStatus dials url and publishes (or plays), returning the refusal, or
// nil on success (the connection is closed at the end of the test).
func rtmpStatus(t *testing.T, url string, publish bool) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	if publish {
		return c.Publish(ctx)
	}
	return c.Play(ctx)
}

func requireRTMPRefused(t *testing.T, err error, code, desc string) {
	t.Helper()
	var se *rtmp.StatusError
	require.True(t, errors.As(err, &se), "want an onStatus error %s, got %v", code, err)
	require.Equal(t, code, se.Code)
	require.Contains(t, se.Description, desc)
}

func TestAuthKeysRTMPAndHTTPFLV(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cfg := writeConfig(t, `
paths:
  "live/*":
    publish_keys: ["pub-s3cret"]
    play_keys: ["view-s3cret"]
`)
	s := testutil.StartSluice(t, nil, "-config", cfg)
	base := "rtmp://" + s.RTMPAddr + "/live/cam1"
	flvURL := "http://" + s.HTTPAddr + "/live/cam1.flv"

	// Publishing without the key, or with a wrong one, is refused.
	noKey := testutil.PublishTestPattern(t, base, testutil.PublishOptions{})
	require.Error(t, noKey.Wait(20*time.Second), "ffmpeg without a key must fail")
	requireRTMPRefused(t, rtmpStatus(t, base, true), "NetStream.Publish.BadName", "needs a key")
	requireRTMPRefused(t, rtmpStatus(t, base+"?key=wrong", true), "NetStream.Publish.BadName", "invalid key")
	waitLog(t, s, "rtmp publish denied")
	denied := s.Logs("rtmp publish denied")
	require.Equal(t, "live/cam1", denied[0]["path"])
	require.Contains(t, denied[0]["remote"], "127.0.0.1:")
	require.Contains(t, denied[0]["reason"], "unauthorized")

	// With the key it works.
	testutil.PublishTestPattern(t, base+"?key=pub-s3cret", testutil.PublishOptions{})
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := httpStatus(t, flvURL+"?token=view-s3cret")
		if code == http.StatusOK {
			break
		}
		require.True(t, time.Now().Before(deadline), "stream not playable with the key within 20s; last %d", code)
		time.Sleep(100 * time.Millisecond)
	}

	// HTTP-FLV: 401 without or with a wrong token, 200 with ?token=, ?key=
	// or a Bearer header.
	code, body := httpStatus(t, flvURL)
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, body, "unauthorized: play live/cam1 needs a key")
	code, _ = httpStatus(t, flvURL+"?token=pub-s3cret")
	require.Equal(t, http.StatusUnauthorized, code, "a publish key is no play key")
	code, _ = httpStatus(t, flvURL+"?key=view-s3cret")
	require.Equal(t, http.StatusOK, code)
	code, _ = httpStatus(t, flvURL, "Authorization", "Bearer view-s3cret")
	require.Equal(t, http.StatusOK, code)
	waitLog(t, s, "http request refused")
	for _, l := range s.Logs("http request refused") {
		require.Equal(t, "live/cam1", l["path"])
		require.Equal(t, "http-flv", l["proto"])
	}

	// RTMP play: refused without the key, plays with it.
	requireRTMPRefused(t, rtmpStatus(t, base, false), "NetStream.Play.Failed", "needs a key")
	require.NoError(t, rtmpStatus(t, base+"?key=view-s3cret", false))

	// Paths outside live/* stay open.
	code, _ = httpStatus(t, "http://"+s.HTTPAddr+"/open/none.flv")
	require.Equal(t, http.StatusNotFound, code)
}

// hookRecorder is the hook endpoint the binary posts to.
type hookRecorder struct {
	mu     sync.Mutex
	bodies map[string][]map[string]any // by URL path
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.bodies[r.URL.Path] = append(h.bodies[r.URL.Path], body)
	h.mu.Unlock()
	switch r.URL.Path {
	case "/slow":
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	case "/deny":
		http.Error(w, "no", http.StatusForbidden)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookRecorder) get(path string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.bodies[path]...)
}

func TestAuthHooks(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	rec := &hookRecorder{bodies: map[string][]map[string]any{}}
	hooks := httptest.NewServer(rec)
	defer hooks.Close()
	cfg := writeConfig(t, fmt.Sprintf(`
hooks:
  on_publish: %[1]s/on_publish
  on_unpublish: %[1]s/on_unpublish
  timeout: 500ms
paths:
  "slow/*":
    hooks: { on_publish: %[1]s/slow }
  "deny/*":
    hooks: { on_publish: %[1]s/deny }
`, hooks.URL))
	s := testutil.StartSluice(t, nil, "-config", cfg)

	// The hook sees the publish and allows it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+s.RTMPAddr+"/live/cam1?key=tok1&x=y", nil)
	require.NoError(t, err)
	require.NoError(t, c.Publish(ctx))
	got := rec.get("/on_publish")
	require.Len(t, got, 1)
	body := got[0]
	require.True(t, strings.HasPrefix(body["remote"].(string), "127.0.0.1:"), "remote %v", body["remote"])
	delete(body, "remote")
	require.Equal(t, map[string]any{
		"action": "publish", "path": "live/cam1", "app": "live", "name": "cam1", "protocol": "rtmp",
		"token": "tok1", "query": map[string]any{"key": "tok1", "x": "y"},
	}, body)

	// Leaving is notified.
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return len(rec.get("/on_unpublish")) == 1 }, 10*time.Second, 20*time.Millisecond)
	require.Equal(t, "unpublish", rec.get("/on_unpublish")[0]["action"])
	require.Equal(t, "live/cam1", rec.get("/on_unpublish")[0]["path"])

	// A hook that does not answer in time denies; so does a 403.
	start := time.Now()
	requireRTMPRefused(t, rtmpStatus(t, "rtmp://"+s.RTMPAddr+"/slow/cam1", true),
		"NetStream.Publish.BadName", "on_publish hook failed: no answer within 500ms")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Len(t, rec.get("/slow"), 1)
	requireRTMPRefused(t, rtmpStatus(t, "rtmp://"+s.RTMPAddr+"/deny/cam1", true),
		"NetStream.Publish.BadName", "on_publish hook answered 403")
}

func TestAuthBadConfigIsStartupError(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	bin := testutil.BuildSluice(t)
	for _, tc := range []struct{ body, want string }{
		{`hooks: { on_publish: "ftp://x" }`, "hooks.on_publish"},
		{`paths: { "live/*": { jwt: { jwks_file: /x, algorithms: [XS1] } } }`, `paths."live/*".jwt.algorithms[0]: unknown algorithm`},
		{`paths: { "live/*": { jwt: { jwks_file: /nonexistent.json } } }`, `paths."live/*".jwt.jwks_file`},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, bin, "-config", writeConfig(t, tc.body))
		cmd.Env = testutil.RaceEnv(append(os.Environ(), "SLUICE_RTMP_LISTEN=127.0.0.1:0", "SLUICE_HTTP_LISTEN=127.0.0.1:0",
			"SLUICE_WEBRTC_LISTEN=127.0.0.1:0"))
		out, err := cmd.CombinedOutput()
		cancel()
		require.Error(t, err, tc.body)
		require.Contains(t, string(out), tc.want)
	}
}
