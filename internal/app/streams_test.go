package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// newTestApp builds the app of the YAML config body (loopback ephemeral
// listeners, never served: tests call its HTTP handler directly) and
// closes everything at the end of the test.
func newTestApp(t *testing.T, body string) *App {
	t.Helper()
	return newTestAppLog(t, body, io.Discard)
}

// newTestAppLog is newTestApp logging text to logs.
func newTestAppLog(t *testing.T, body string, logs io.Writer) *App {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sluice.yaml")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	cfg, err := config.Load(p, []string{
		"SLUICE_RTMP_LISTEN=127.0.0.1:0", "SLUICE_HTTP_LISTEN=127.0.0.1:0", "SLUICE_WEBRTC_LISTEN=127.0.0.1:0",
		"SLUICE_SRT_LISTEN=127.0.0.1:0",
	})
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	a, err := New(cfg, log)
	require.NoError(t, err)
	t.Cleanup(func() {
		a.hub.Close()
		if a.transcoder != nil {
			a.transcoder.Close()
		}
		_ = a.webrtc.Close()
		a.closeSRT()
		a.audio.Close()
		for _, ln := range a.listeners {
			ln.Close()
		}
		_ = a.auth.Close()
	})
	return a
}

// do sends one request to h and returns the answer.
func do(t *testing.T, h http.Handler, method, url string, hdr ...string) *http.Response {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("v=0\r\n")
	}
	req := httptest.NewRequest(method, url, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// streamEntry is one stream URL the router must authorize.
type streamEntry struct {
	method, url string
	key         string // the credential that allows it
	hdr         []string
}

// With keys on live/*, every URL that can start a packager or a
// transcoder, or hand out a media session ID, is refused with 401 without
// the key; with it, the request reaches its server (which then answers
// 404: nothing is published). The HLS media playlists of a stream and of
// its ladder's renditions were served without the key before the stream
// router (the bypass of issue 11).
func TestStreamRouterAuthorizesEveryEntryPoint(t *testing.T) {
	a := newTestApp(t, `
paths:
  "live/*":
    publish_keys: ["pub-k"]
    play_keys: ["play-k"]
    transcode:
      ladder:
        - { name: low, height: 144, video_bitrate: 200k }
`)
	h := a.httpSrv.Handler
	ws := []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13",
		"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}
	sdp := []string{"Content-Type", "application/sdp"}
	for _, e := range []streamEntry{
		{"GET", "/live/cam1.m3u8", "play-k", nil},               // multivariant (ladder)
		{"GET", "/live/cam1/hls/media.m3u8", "play-k", nil},     // the source's media playlist
		{"GET", "/live/cam1_low.m3u8", "play-k", nil},           // a rendition's media playlist
		{"GET", "/live/cam1_low/hls/media.m3u8", "play-k", nil}, // the same, in its directory
		{"HEAD", "/live/cam1/hls/media.m3u8", "play-k", nil},    // HEAD as well
		{"GET", "/live/cam1.mpd", "play-k", nil},                // DASH MPD
		{"GET", "/live/cam1/dash/time", "play-k", nil},          // DASH UTCTiming
		{"GET", "/live/cam1.flv", "play-k", nil},                // HTTP-FLV
		{"GET", "/live/cam1.flv", "play-k", ws},                 // WS-FLV
		{"POST", "/live/cam1/whep", "play-k", sdp},              // WHEP
		{"GET", "/live/cam1.jpg", "play-k", nil},                // thumbnail
		{"HEAD", "/live/cam1.jpg", "play-k", nil},               // thumbnail, HEAD
		{"POST", "/live/cam1/whip", "pub-k", sdp},               // WHIP
		{"GET", "/open/cam1/hls/media.m3u8", "", nil},           // a path without keys stays open
	} {
		name := e.method + " " + e.url
		if e.hdr != nil {
			name += " " + e.hdr[1]
		}
		t.Run(name, func(t *testing.T) {
			if e.key != "" {
				resp := do(t, h, e.method, e.url, e.hdr...)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "without a key")
				require.Equal(t, `Bearer realm="sluice"`, resp.Header.Get("WWW-Authenticate"))
				resp = do(t, h, e.method, e.url+"?key=wrong", e.hdr...)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "with a wrong key")
			}
			hdr := append([]string{"Authorization", "Bearer " + e.key}, e.hdr...)
			resp := do(t, h, e.method, e.url, hdr...)
			b, _ := io.ReadAll(resp.Body)
			require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, resp.StatusCode,
				"with the key: %s", b)
			if strings.HasSuffix(e.url, "/time") {
				require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
			}
		})
	}
	// A publish key is no play key, and the other way round.
	require.Equal(t, http.StatusUnauthorized, do(t, h, "GET", "/live/cam1/hls/media.m3u8?key=pub-k").StatusCode)
	require.Equal(t, http.StatusUnauthorized, do(t, h, "POST", "/live/cam1/whip?key=play-k", sdp...).StatusCode)
}

// Media files and WebRTC session resources take no credential (players
// resolve them without the playlist's query): they are reached through
// the unguessable ID of a live session and never start anything, so
// without one they are 404, key or not. The player page is public.
func TestStreamRouterCapabilitiesAndPublicPages(t *testing.T) {
	a := newTestApp(t, `
paths:
  "live/*":
    play_keys: ["play-k"]
`)
	h := a.httpSrv.Handler
	id := strings.Repeat("ab", 16)
	for _, u := range []string{
		"/live/cam1/hls/" + id + "_seg1.m4s",
		"/live/cam1/hls/" + id + "_part1.0.m4s",
		"/live/cam1/hls/" + id + "_init0.mp4",
		"/live/cam1/dash/" + id + "_v_seg1.m4s",
	} {
		require.Equal(t, http.StatusNotFound, do(t, h, "GET", u).StatusCode, u)
	}
	require.Equal(t, http.StatusNotFound, do(t, h, "DELETE", "/live/cam1/whep/"+id).StatusCode)
	require.Equal(t, http.StatusNotFound, do(t, h, "DELETE", "/live/cam1/whip/"+id).StatusCode)
	require.Equal(t, http.StatusNotFound, do(t, h, "DELETE", "/live/cam1/whip/not-an-id").StatusCode)
	require.Equal(t, http.StatusOK, do(t, h, "GET", "/live/cam1").StatusCode, "player page")
}

// Refusals name the path asked for, one line each at their level: a
// denial (warn), a wrong method (info), a bad path (debug, the raw path).
func TestStreamRouterRefusalsAreLoggedWithThePath(t *testing.T) {
	var logs testutil.SyncBuffer
	a := newTestAppLog(t, `
log: { level: debug }
paths:
  "live/*":
    play_keys: ["play-k"]
`, &logs)
	h := a.httpSrv.Handler
	for _, c := range []struct {
		method, url string
		status      int
		want        string
	}{
		{"GET", "/live/cam1/hls/media.m3u8", http.StatusUnauthorized,
			`level=WARN msg="http request refused" component=http proto=hls kind="hls media playlist" method=GET remote=192.0.2.1:1234 path=live/cam1 status=401`},
		{"DELETE", "/live/cam1.m3u8", http.StatusMethodNotAllowed,
			`level=INFO msg="http request refused" component=http proto=hls kind="hls playlist" method=DELETE remote=192.0.2.1:1234 path=live/cam1 status=405`},
		{"GET", "/live/b%21d.flv", http.StatusBadRequest,
			`level=DEBUG msg="http request refused" component=http proto=http kind="" method=GET remote=192.0.2.1:1234 path=/live/b!d.flv status=400`},
	} {
		logs.Reset()
		resp := do(t, h, c.method, c.url)
		require.Equal(t, c.status, resp.StatusCode, c.url)
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		require.Len(t, lines, 1, "one line per refusal: %q", logs.String())
		require.Contains(t, lines[0], c.want)
	}
}

// http.allowed_origins: a WebSocket upgrade from an origin not listed is
// refused with 403 (RFC 6455 §10.2) and logged; the CORS answers of every
// entry point echo a listed origin (with Vary: Origin) and leave others
// without Access-Control-Allow-Origin. The server's own pages count as
// allowed.
func TestStreamRouterAllowedOrigins(t *testing.T) {
	var logs testutil.SyncBuffer
	a := newTestAppLog(t, `
http:
  allowed_origins: ["https://good.example"]
`, &logs)
	h := a.httpSrv.Handler
	ws := []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13",
		"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}
	resp := do(t, h, "GET", "/live/cam1.flv", append(ws, "Origin", "https://evil.example")...)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, logs.String(), `level=WARN msg="http request refused" component=http proto=ws-flv kind=ws-flv method=GET remote=192.0.2.1:1234 path=live/cam1 status=403 reason="origin https://evil.example is not allowed (http.allowed_origins)"`)
	for _, origin := range []string{"https://good.example", "http://example.com", ""} {
		// Not published: the FLV server answers 404, past the origin check.
		resp = do(t, h, "GET", "/live/cam1.flv", append(ws, "Origin", origin)...)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, "origin %q", origin)
	}

	for _, u := range []string{"/live/cam1.m3u8", "/live/cam1/hls/media.m3u8", "/live/cam1.mpd", "/live/cam1/dash/time",
		"/live/cam1.flv", "/live/cam1/hls/" + strings.Repeat("ab", 16) + "_seg1.m4s"} {
		resp = do(t, h, "GET", u, "Origin", "https://evil.example")
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), u)
		require.Equal(t, "Origin", resp.Header.Get("Vary"), u)
		resp = do(t, h, "GET", u, "Origin", "https://good.example")
		require.Equal(t, "https://good.example", resp.Header.Get("Access-Control-Allow-Origin"), u)
		require.Equal(t, "Origin", resp.Header.Get("Vary"), u)
	}
	for _, u := range []string{"/live/cam1/whep", "/live/cam1/whip"} {
		resp = do(t, h, "POST", u, "Origin", "https://good.example", "Content-Type", "application/sdp")
		require.Equal(t, "https://good.example", resp.Header.Get("Access-Control-Allow-Origin"), u)
		require.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "Location", u)
		// Preflights: methods only for an allowed origin.
		resp = do(t, h, "OPTIONS", u, "Origin", "https://good.example", "Access-Control-Request-Method", "POST")
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Equal(t, "POST, OPTIONS", resp.Header.Get("Access-Control-Allow-Methods"), u)
		require.Equal(t, "application/sdp", resp.Header.Get("Accept-Post"), u)
		resp = do(t, h, "OPTIONS", u, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), u)
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Methods"), u)
	}
	resp = do(t, h, "OPTIONS", "/live/cam1/whep/"+strings.Repeat("ab", 16), "Origin", "https://good.example")
	require.Equal(t, "DELETE, OPTIONS", resp.Header.Get("Access-Control-Allow-Methods"))
}

// With the default allowed_origins ["*"] every answer has
// Access-Control-Allow-Origin: * (as before the setting).
func TestStreamRouterDefaultOriginsAllowAll(t *testing.T) {
	a := newTestApp(t, "")
	h := a.httpSrv.Handler
	ws := []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13",
		"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Origin", "https://any.example"}
	require.Equal(t, http.StatusNotFound, do(t, h, "GET", "/live/cam1.flv", ws...).StatusCode)
	for _, u := range []string{"/live/cam1.m3u8", "/live/cam1.mpd", "/live/cam1.flv", "/live/cam1/dash/time"} {
		resp := do(t, h, "GET", u, "Origin", "https://any.example")
		require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"), u)
	}
}

// A ladder's renditions are authorized as their source: with keys on the
// exact path live/cam1 (no pattern matches live/cam1_low itself), the
// rendition's playlists, FLV and WHEP need live/cam1's play key; before,
// no rule governed live/cam1_low and it played without one.
func TestStreamRouterRenditionIsAuthorizedAsItsSource(t *testing.T) {
	a := newTestApp(t, `
paths:
  "live/cam1":
    play_keys: ["play-k"]
    transcode:
      ladder:
        - { name: low, height: 144, video_bitrate: 200k }
`)
	h := a.httpSrv.Handler
	for _, u := range []string{"/live/cam1_low.m3u8", "/live/cam1_low/hls/media.m3u8", "/live/cam1_low.flv"} {
		require.Equal(t, http.StatusUnauthorized, do(t, h, "GET", u).StatusCode, u)
		require.Equal(t, http.StatusNotFound, do(t, h, "GET", u+"?key=play-k").StatusCode, u)
	}
	require.Equal(t, http.StatusUnauthorized, do(t, h, "POST", "/live/cam1_low/whep", "Content-Type", "application/sdp").StatusCode)
	// Not a rung: a path of its own, open.
	require.Equal(t, http.StatusNotFound, do(t, h, "GET", "/live/cam1_high/hls/media.m3u8").StatusCode)
}

// An on_play hook is asked once per viewer (client IP, token, path) per
// hooks.cache, not on every LL-HLS playlist reload, and never for media
// files (parts, segments), which carry no credential.
func TestStreamRouterHookIsNotAskedPerReload(t *testing.T) {
	var mu sync.Mutex
	asked := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	a := newTestApp(t, `
hooks: { on_play: "`+hook.URL+`/on_play", cache: 1m }
`)
	h := a.httpSrv.Handler
	for i := 0; i < 20; i++ {
		// Nothing is published: 404 after the decision.
		require.Equal(t, http.StatusNotFound, do(t, h, "GET", "/live/cam1/hls/media.m3u8?_HLS_msn=5&_HLS_part="+strconv.Itoa(i)).StatusCode)
		require.Equal(t, http.StatusNotFound, do(t, h, "GET", "/live/cam1/hls/"+strings.Repeat("ab", 16)+"_part5."+strconv.Itoa(i)+".m4s").StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, asked, "hook calls for 20 playlist reloads and 20 parts")
}

// The HLS media playlists answer to JWTs and on_play hooks like every
// other entry point: a token for another path is 403, a valid one passes;
// a hook's 403 denies.
func TestStreamRouterJWTAndHookOnMediaPlaylists(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer hook.Close()
	const secret = "0123456789abcdef0123456789abcdef"
	a := newTestApp(t, `
paths:
  "live/*":
    jwt: { secret: "`+secret+`" }
  "hooked/*":
    hooks: { on_play: "`+hook.URL+`/on_play" }
`)
	h := a.httpSrv.Handler
	token := func(path string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"path": path, "action": "play",
			"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
		require.NoError(t, err)
		return s
	}
	for _, u := range []string{"/live/cam1/hls/media.m3u8", "/live/cam1.m3u8", "/live/cam1.mpd"} {
		require.Equal(t, http.StatusUnauthorized, do(t, h, "GET", u).StatusCode, u)
		require.Equal(t, http.StatusForbidden, do(t, h, "GET", u+"?token="+token("other/*")).StatusCode, u)
		require.Equal(t, http.StatusNotFound, do(t, h, "GET", u, "Authorization", "Bearer "+token("live/*")).StatusCode, u)
	}
	require.Equal(t, http.StatusForbidden, do(t, h, "GET", "/hooked/cam1/hls/media.m3u8").StatusCode)
}
