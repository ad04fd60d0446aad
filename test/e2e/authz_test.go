package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// authEntry is one stream entry point of the HTTP surface as the auth
// test tries it: without credentials it must answer 401, with them want.
type authEntry struct {
	name   string
	method string
	url    string // below http://H; "{key}" takes the credential
	body   string // POST body (an SDP offer)
	ws     bool   // a WebSocket upgrade
	want   int    // the answer with the credential
	// slow: a rendition, whose ffmpeg may take a while to start on a
	// loaded machine; its answer with the credential is retried.
	slow bool
}

// doEntry requests e with the query credential key ("" for none) and
// returns the status and body.
func doEntry(t *testing.T, httpAddr string, e authEntry, key string) (int, string) {
	t.Helper()
	u := "http://" + httpAddr + e.url
	if key != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "key=" + key
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if e.ws {
		c, resp, err := websocket.Dial(ctx, strings.Replace(u, "http://", "ws://", 1), nil)
		if err == nil {
			defer c.CloseNow()
			return resp.StatusCode, ""
		}
		require.NotNil(t, resp, "ws dial %s: %v", e.url, err)
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	req, err := http.NewRequestWithContext(ctx, e.method, u, strings.NewReader(e.body))
	require.NoError(t, err)
	if e.body != "" {
		req.Header.Set("Content-Type", "application/sdp")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if e.url == "/live/cam1.flv" && resp.StatusCode == http.StatusOK {
		return resp.StatusCode, "" // an endless body
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAuthEveryStreamEntryPoint publishes with ffmpeg over RTMP to a path
// with publish and play keys and an on-demand ABR ladder, then tries every
// entry point that names the stream: without a credential each is refused
// (401; RTMP's onStatus error), with it each plays. The HLS media
// playlists (/APP/NAME/hls/media.m3u8, a rendition's) answered 200 without
// a key before the stream router, revealing the media session ID and
// starting packagers (issue 11).
//
// Media files (segments, parts, init sections; DASH's too) are the one
// exception by design: they take no credential, since players resolve
// them without the playlist's query; their URLs hold the packager
// session's random 128-bit ID, handed out only in an authorized playlist.
func TestAuthEveryStreamEntryPoint(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cfg := writeConfig(t, `
paths:
  "live/*":
    publish_keys: ["pub-k"]
    play_keys: ["play-k"]
    transcode:
      passthrough: true
      ladder:
        - { name: low, width: 256, height: 144, video_bitrate: 150k, max_fps: 15, preset: ultrafast }
`)
	s := testutil.StartSluice(t, nil, "-config", cfg)
	rtmpURL := "rtmp://" + s.RTMPAddr + "/live/cam1"

	// RTMP publish: refused without the key and with the play key.
	requireRTMPRefused(t, rtmpStatus(t, rtmpURL, true), "NetStream.Publish.BadName", "needs a key")
	requireRTMPRefused(t, rtmpStatus(t, rtmpURL+"?key=play-k", true), "NetStream.Publish.BadName", "invalid key")
	testutil.PublishTestPattern(t, rtmpURL+"?key=pub-k", testutil.PublishOptions{Pattern: testutil.Pattern{Size: "320x180", Bitrate: "300k"}})
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := httpStatus(t, "http://"+s.HTTPAddr+"/live/cam1.flv?key=play-k")
		if code == http.StatusOK {
			break
		}
		require.True(t, time.Now().Before(deadline), "stream not playable with the key within 20s; last %d", code)
		time.Sleep(100 * time.Millisecond)
	}
	// RTMP play.
	requireRTMPRefused(t, rtmpStatus(t, rtmpURL, false), "NetStream.Play.Failed", "needs a key")
	require.NoError(t, rtmpStatus(t, rtmpURL+"?key=play-k", false))

	_, whipOffer := newWHIPPublisher(t)
	// Every HTTP entry point naming a stream, in the order tried (the
	// multivariant playlist first: it starts the on-demand ladder).
	entries := []authEntry{
		{name: "HLS multivariant playlist", method: "GET", url: "/live/cam1.m3u8", want: 200},
		{name: "HLS media playlist", method: "GET", url: "/live/cam1/hls/media.m3u8", want: 200},
		{name: "HLS media playlist, blocking reload", method: "GET", url: "/live/cam1/hls/media.m3u8?_HLS_msn=0", want: 200},
		{name: "HLS media playlist (HEAD)", method: "HEAD", url: "/live/cam1/hls/media.m3u8", want: 200},
		{name: "HLS rendition media playlist", method: "GET", url: "/live/cam1_low.m3u8", want: 200, slow: true},
		{name: "HLS rendition media playlist in its directory", method: "GET", url: "/live/cam1_low/hls/media.m3u8", want: 200, slow: true},
		{name: "DASH MPD", method: "GET", url: "/live/cam1.mpd", want: 200},
		{name: "DASH UTCTiming", method: "GET", url: "/live/cam1/dash/time", want: 200},
		{name: "HTTP-FLV", method: "GET", url: "/live/cam1.flv", want: 200},
		{name: "WS-FLV", method: "GET", url: "/live/cam1.flv", ws: true, want: http.StatusSwitchingProtocols},
		{name: "WHEP POST", method: "POST", url: "/live/cam1/whep", body: minimalOffer, want: http.StatusCreated},
		{name: "WHIP POST", method: "POST", url: "/live/whip1/whip", body: whipOffer, want: http.StatusCreated},
	}
	bodies := map[string]string{}
	for _, e := range entries {
		code, body := doEntry(t, s.HTTPAddr, e, "")
		require.Equal(t, http.StatusUnauthorized, code, "%s %s without a key: %s", e.name, e.url, body)
		if e.method != "HEAD" && !e.ws {
			require.Contains(t, body, "needs a key", e.name)
		}
		code, _ = doEntry(t, s.HTTPAddr, e, "wrong")
		require.Equal(t, http.StatusUnauthorized, code, "%s with a wrong key", e.name)
		key := "play-k"
		if strings.HasSuffix(e.url, "/whip") {
			key = "pub-k"
		}
		code, body = doEntry(t, s.HTTPAddr, e, key)
		for end := time.Now().Add(40 * time.Second); e.slow && code != e.want && time.Now().Before(end); {
			time.Sleep(500 * time.Millisecond)
			code, body = doEntry(t, s.HTTPAddr, e, key)
		}
		require.Equal(t, e.want, code, "%s %s with the key: %s", e.name, e.url, body)
		bodies[e.name] = body
	}

	// The multivariant playlist hands its credential on to the media
	// playlists (players resolve them without its query), the MPD to its
	// UTCTiming clock.
	mv := bodies["HLS multivariant playlist"]
	require.Contains(t, mv, "\ncam1/hls/media.m3u8?key=play-k\n", mv)
	require.Contains(t, mv, "\ncam1_low.m3u8?key=play-k\n", mv)
	require.Contains(t, bodies["DASH MPD"], "/live/cam1/dash/time?key=play-k", bodies["DASH MPD"])

	// Media files: by the session ID of an authorized playlist, no key.
	seg := regexp.MustCompile(`(?m)^([0-9a-f]{32}_seg[0-9]+\.m4s)$`).FindStringSubmatch(bodies["HLS media playlist"])
	require.NotNil(t, seg, "no segment in %s", bodies["HLS media playlist"])
	code, _ := httpStatus(t, "http://"+s.HTTPAddr+"/live/cam1/hls/"+seg[1])
	require.Equal(t, http.StatusOK, code, "a segment of the authorized playlist")
	code, _ = httpStatus(t, "http://"+s.HTTPAddr+"/live/cam1/hls/"+strings.Repeat("0", 32)+"_seg1.m4s")
	require.Equal(t, http.StatusNotFound, code, "a segment of a guessed session")

	// A real client follows the multivariant playlist's children with the
	// key: ffprobe sees the source and the rendition.
	streams, err := testutil.Probe(t, "http://"+s.HTTPAddr+"/live/cam1.m3u8?key=play-k", 60*time.Second)
	require.NoError(t, err)
	heights := map[int]bool{}
	for _, st := range streams {
		if st.CodecType == "video" {
			heights[st.Height] = true
		}
	}
	require.Equal(t, map[int]bool{180: true, 144: true}, heights, "video streams ffprobe found: %+v", streams)

	// WHEP's session resource: the 201 carries an ETag (RFC 9725 §4.3;
	// MediaMTX refuses an answer without one) and no Accept-Patch; OPTIONS
	// and a PATCH's 405 agree that the resource takes DELETE only.
	req, err := http.NewRequest(http.MethodPost, "http://"+s.HTTPAddr+"/live/cam1/whep", strings.NewReader(minimalOffer))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer play-k")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.Regexp(t, `^/live/cam1/whep/[0-9a-f]{32}$`, loc)
	require.Equal(t, `"`+loc[strings.LastIndexByte(loc, '/')+1:]+`"`, resp.Header.Get("ETag"))
	require.Empty(t, resp.Header.Get("Accept-Patch"))
	require.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "ETag")
	req, _ = http.NewRequest(http.MethodOptions, "http://"+s.HTTPAddr+loc, nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, "DELETE, OPTIONS", resp.Header.Get("Access-Control-Allow-Methods"))
	req, _ = http.NewRequest(http.MethodPatch, "http://"+s.HTTPAddr+loc, strings.NewReader("a=end-of-candidates\r\n"))
	req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
	req.Header.Set("If-Match", `"x"`)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Equal(t, "DELETE, OPTIONS", resp.Header.Get("Allow"))
	req, _ = http.NewRequest(http.MethodDelete, "http://"+s.HTTPAddr+loc, nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "DELETE needs no key: the session ID is the capability")

	// Each denial is one log line naming the path.
	denied := s.Logs("http request refused")
	require.NotEmpty(t, denied)
	for _, l := range denied {
		require.NotEmpty(t, l["path"], "%v", l)
	}
}

// TestAllowedOrigins: with http.allowed_origins set, a WS-FLV upgrade from
// another page's origin is refused with 403 and one log line (RFC 6455
// §10.2) while a listed origin plays; CORS answers echo the listed origin
// and give others no Access-Control-Allow-Origin.
func TestAllowedOrigins(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	cfg := writeConfig(t, `
http:
  allowed_origins: ["https://good.example"]
`)
	s := testutil.StartSluice(t, nil, "-config", cfg)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/o", testutil.PublishOptions{Pattern: testutil.Pattern{Size: "320x180", Bitrate: "300k"}})
	waitForStream(t, s, "live/o")

	dial := func(origin string) (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, "ws://"+s.HTTPAddr+"/live/o.flv",
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if err != nil {
			if resp == nil {
				return 0, err
			}
			return resp.StatusCode, err
		}
		defer c.CloseNow()
		_, msg, err := c.Read(ctx)
		if err == nil && !strings.HasPrefix(string(msg), "FLV") {
			err = errors.New("first message is not an FLV header")
		}
		return resp.StatusCode, err
	}
	code, _ := dial("https://evil.example")
	require.Equal(t, http.StatusForbidden, code)
	waitLog(t, s, "http request refused")
	l := s.Logs("http request refused")[0]
	require.Equal(t, "live/o", l["path"])
	require.Equal(t, "ws-flv", l["proto"])
	require.Contains(t, l["reason"], "origin https://evil.example is not allowed")
	code, err := dial("https://good.example")
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, code)

	for _, u := range []string{"/live/o.m3u8", "/live/o.mpd", "/live/o.flv"} {
		for origin, want := range map[string]string{"https://good.example": "https://good.example", "https://evil.example": ""} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTPAddr+u, nil)
			require.NoError(t, err)
			req.Header.Set("Origin", origin)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			cancel()
			require.Equal(t, http.StatusOK, resp.StatusCode, u)
			require.Equal(t, want, resp.Header.Get("Access-Control-Allow-Origin"), "%s from %s", u, origin)
			require.Equal(t, "Origin", resp.Header.Get("Vary"), u)
		}
	}
}

// hlsKeyResult is what web/test/hlskey.mjs prints.
type hlsKeyResult struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
	Levels []struct {
		Height int    `json:"height"`
		URL    string `json:"url"`
	} `json:"levels"`
	Fetched []struct {
		Level int    `json:"level"`
		Frag  string `json:"frag"`
	} `json:"fetched"`
	Loaded []struct {
		Level int    `json:"level"`
		URL   string `json:"url"`
	} `json:"loaded"`
	Errors []struct {
		Details string `json:"details"`
		Fatal   bool   `json:"fatal"`
		Status  int    `json:"status"`
	} `json:"errors"`
}

// TestHLSJSPlaysKeyedLadder: hls.js (low-latency mode) in headless
// Chromium loads every level of a multivariant playlist that needs a play
// key, given only as ?key= on the multivariant URL: the server hands the
// key on to the media playlists it lists, hls.js keeps it on their
// blocking reloads, and their media files (no key) load. No request is
// refused.
func TestHLSJSPlaysKeyedLadder(t *testing.T) {
	root := repoRoot(t)
	requireChromium(t, root, "web/node_modules/hls.js/dist/hls.min.js")
	cfg := writeConfig(t, `
paths:
  "live/*":
    play_keys: ["play-k"]
    transcode:
      passthrough: true
      ladder:
        - { name: low, width: 256, height: 144, video_bitrate: 150k, max_fps: 15, preset: ultrafast }
`)
	s := testutil.StartSluice(t, nil, "-config", cfg)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/cam1", testutil.PublishOptions{Pattern: testutil.Pattern{Size: "320x180", Bitrate: "300k"}})
	deadline := time.Now().Add(20 * time.Second)
	for code, _ := httpStatus(t, "http://"+s.HTTPAddr+"/live/cam1.flv?key=play-k"); code != http.StatusOK; code, _ = httpStatus(t, "http://"+s.HTTPAddr+"/live/cam1.flv?key=play-k") {
		require.True(t, time.Now().Before(deadline), "stream not playable within 20s; last %d", code)
		time.Sleep(100 * time.Millisecond)
	}

	const timeout = 60 // seconds, inside the script
	var res hlsKeyResult
	line := runBrowserScript(t, root, filepath.Join(root, "web", "test", "hlskey.mjs"), (timeout+15)*time.Second, &res,
		"--base", "http://"+s.HTTPAddr, "--path", "live/cam1", "--key", "play-k", "--timeout", strconv.Itoa(timeout))
	t.Logf("hlskey.mjs: %s", line)
	require.Len(t, res.Levels, 2, "source and rendition: %s", line)
	for _, l := range res.Levels {
		require.Contains(t, l.URL, "key=play-k", "level URL")
	}
	require.True(t, res.OK, "hls.js did not load every level: %s %s", res.Error, line)
	for _, l := range res.Loaded {
		require.Contains(t, l.URL, "key=play-k", "a media playlist (re)load without the key")
	}
	for _, f := range res.Fetched {
		require.NotContains(t, f.Frag, "key=", "media URLs carry no key")
	}
	for _, e := range res.Errors {
		require.NotEqual(t, http.StatusUnauthorized, e.Status, "a request was refused: %s", e.Details)
		require.NotEqual(t, http.StatusForbidden, e.Status, "a request was refused: %s", e.Details)
	}
	require.Empty(t, s.Logs("http request refused"), "no request of the player was refused")
}
