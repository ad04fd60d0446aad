package hlsserver

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/packager"
)

// TestMPEGTSForUserAgent: a client named in MPEGTSUserAgents gets an
// MPEG-TS media playlist and its .ts segments from the default
// (low-latency) server; every other client keeps the LL-HLS playlist,
// whose fMP4 files are still served; without the list, .ts names are
// unknown as before.
func TestMPEGTSForUserAgent(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Options{Logger: quiet, MaxLag: time.Minute})
	defer h.Close()
	pm := &packager.Manager{Hub: h, Options: packager.Options{AlignMSN: true}, Logger: quiet}
	defer pm.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	publish(ctx, t, h, "live/cam1", 4000, &wg)
	s := &Server{Packagers: pm, Logger: quiet, MPEGTSUserAgents: []string{"GStreamer souphttpsrc"}}
	mux := http.NewServeMux()
	mux.HandleFunc("/live/{file}", func(w http.ResponseWriter, r *http.Request) {
		s.ServeStream(w, r, "live/"+strings.TrimSuffix(r.PathValue("file"), ".m3u8"), "")
	})
	mux.HandleFunc("/live/{name}/hls/{file}", func(w http.ResponseWriter, r *http.Request) {
		s.ServeStream(w, r, "live/"+r.PathValue("name"), r.PathValue("file"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path, ua string) (int, string, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	const gst = "GStreamer souphttpsrc 1.22.0 libsoup/3.2.3"
	const browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"

	status, _, ts := get("/live/cam1.m3u8", gst)
	require.Equal(t, http.StatusOK, status, ts)
	require.Contains(t, ts, "#EXT-X-VERSION:3\n", ts)
	require.NotContains(t, ts, "#EXT-X-PART", ts)
	require.NotContains(t, ts, "#EXT-X-MAP", ts)
	// The first playlist of the new TS packager waits until it lists four
	// target durations (startWindow; 2 s segments by default), so a player
	// starting there has media to buffer.
	require.GreaterOrEqual(t, strings.Count(ts, "#EXTINF:"), 4, ts)
	seg := regexp.MustCompile(`(?m)^cam1/hls/([0-9a-f]+_seg[0-9]+\.ts)$`).FindStringSubmatch(ts)
	require.NotNil(t, seg, "a .ts segment URI in the playlist for %q:\n%s", gst, ts)
	status, ctype, body := get("/live/cam1/hls/"+seg[1], gst)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, contentTypeTS, ctype)
	require.NotEmpty(t, body)
	require.Equal(t, byte(0x47), body[0], "MPEG-TS sync byte")

	status, _, ll := get("/live/cam1.m3u8", browser)
	require.Equal(t, http.StatusOK, status, ll)
	require.Contains(t, ll, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES", ll)
	require.Contains(t, ll, "#EXT-X-PART:", ll)
	m4s := regexp.MustCompile(`(?m)^cam1/hls/([0-9a-f]+_seg[0-9]+\.m4s)$`).FindStringSubmatch(ll)
	require.NotNil(t, m4s, "an .m4s segment URI in the playlist for a browser:\n%s", ll)
	status, ctype, _ = get("/live/cam1/hls/"+m4s[1], browser)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, contentTypeMP4, ctype)
	// The fMP4 session does not serve TS names of its own number, nor the
	// TS session fMP4 names.
	status, _, _ = get("/live/cam1/hls/"+strings.TrimSuffix(m4s[1], ".m4s")+".ts", browser)
	require.Equal(t, http.StatusNotFound, status)

	s.MPEGTSUserAgents = nil // off: the variant's format for everyone
	status, _, off := get("/live/cam1.m3u8", gst)
	require.Equal(t, http.StatusOK, status, off)
	require.Contains(t, off, "#EXT-X-PART:", off)
	status, _, _ = get("/live/cam1/hls/"+seg[1], gst)
	require.Equal(t, http.StatusNotFound, status, "a .ts file without mpegts_user_agents")
}
