package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/api"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// apiCall performs one API request and decodes a JSON answer into out
// (when non-nil); it returns the status code.
func apiCall(t *testing.T, method, url string, out any, hdr ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(body) > 0 {
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"), "%s %s", method, url)
		require.NoError(t, json.Unmarshal(body, out), "%s %s: %s", method, url, body)
	}
	return resp.StatusCode
}

// viewer is one background player; done closes when its connection ends.
type viewer struct {
	bytes atomic.Int64
	done  chan struct{}
}

func newViewer() *viewer { return &viewer{done: make(chan struct{})} }

func (v *viewer) requireEnds(t *testing.T, what string, within time.Duration) {
	t.Helper()
	select {
	case <-v.done:
	case <-time.After(within):
		t.Fatalf("%s viewer still connected after %s", what, within)
	}
}

// scrapeCounter returns the value of the sample named exactly series
// (name{labels}) in a /metrics scrape.
func scrapeCounter(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindSubmatch(b)
	require.NotNil(t, m, "series %s missing from /metrics:\n%s", series, b)
	f, err := strconv.ParseFloat(string(m[1]), 64)
	require.NoError(t, err)
	return f
}

// TestAPIStreamsViewersMetricsAndKick: ffmpeg publishes over RTMP, three
// viewers play over RTMP, HTTP-FLV and WS-FLV; the API describes the stream
// and counts the viewers by protocol, kicks one viewer, /metrics counters
// move, and kicking the publisher ends the stream and the ffmpeg process.
func TestAPIStreamsViewersMetricsAndKick(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	base := "http://" + s.HTTPAddr
	pub := testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/api", testutil.PublishOptions{})
	waitForStream(t, s, "live/api")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// RTMP viewer: our client.
	rv := newViewer()
	rc, err := rtmp.Dial(ctx, "rtmp://"+s.RTMPAddr+"/live/api", nil)
	require.NoError(t, err)
	defer rc.Close()
	require.NoError(t, rc.Play(ctx))
	go func() {
		defer close(rv.done)
		for {
			m, err := rc.ReadMessage()
			if err != nil {
				return
			}
			rv.bytes.Add(int64(len(m.Payload)))
		}
	}()

	// HTTP-FLV viewer: a plain GET draining the body.
	hv := newViewer()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/live/api.flv", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	go func() {
		defer close(hv.done)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			hv.bytes.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()

	// WS-FLV viewer.
	wv := newViewer()
	ws, _, err := websocket.Dial(ctx, "ws://"+s.HTTPAddr+"/live/api.flv", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	ws.SetReadLimit(64 << 20)
	go func() {
		defer close(wv.done)
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			wv.bytes.Add(int64(len(msg)))
		}
	}()

	// The API lists the stream with its tracks and exactly our viewers
	// (waitForStream's probes detach asynchronously, hence the polling).
	want := map[string]int{"rtmp": 1, "http-flv": 1, "ws-flv": 1}
	var list api.StreamList
	deadline := time.Now().Add(15 * time.Second)
	for {
		list = api.StreamList{}
		require.Equal(t, http.StatusOK, apiCall(t, "GET", base+"/api/v1/streams", &list))
		if len(list.Streams) == 1 && fmt.Sprint(list.Streams[0].Viewers.ByProtocol) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("API never listed live/api with viewers %v; last answer %+v", want, list)
		}
		time.Sleep(200 * time.Millisecond)
	}
	st := list.Streams[0]
	require.Equal(t, "live/api", st.Path)
	require.Equal(t, 3, st.Viewers.Total)
	require.NotNil(t, st.Publisher)
	require.Equal(t, "rtmp", st.Publisher.Protocol)
	require.True(t, strings.HasPrefix(st.Publisher.Remote, "127.0.0.1:"), st.Publisher.Remote)
	require.NotNil(t, st.Tracks.Video)
	require.Equal(t, "h264", st.Tracks.Video.Codec)
	require.Equal(t, 320, st.Tracks.Video.Width)
	require.Equal(t, 240, st.Tracks.Video.Height)
	require.True(t, strings.HasPrefix(st.Tracks.Video.CodecString, "avc1."), st.Tracks.Video.CodecString)
	require.NotNil(t, st.Tracks.Audio)
	require.Equal(t, "aac", st.Tracks.Audio.Codec)
	require.Equal(t, 44100, st.Tracks.Audio.SampleRate)
	require.Equal(t, 2, st.Tracks.Audio.Channels)
	require.Greater(t, st.BytesIn, uint64(0))
	require.Greater(t, st.UptimeSeconds, 0.0)

	var one api.Stream
	require.Equal(t, http.StatusOK, apiCall(t, "GET", base+"/api/v1/streams/live/api", &one))
	require.Equal(t, "live/api", one.Path)
	require.Greater(t, one.BitrateInKbps, 50.0, "a 500k + 64k publish")
	require.Less(t, one.BitrateInKbps, 5000.0)

	var srv api.ServerInfo
	require.Equal(t, http.StatusOK, apiCall(t, "GET", base+"/api/v1/server", &srv))
	require.Equal(t, 1, srv.Streams)
	require.Equal(t, 1, srv.Publishers)
	require.Equal(t, 3, srv.Viewers.Total)
	require.Contains(t, srv.Listeners, api.Listener{Name: "http", Addr: s.HTTPAddr})
	require.Contains(t, srv.Listeners, api.Listener{Name: "rtmp", Addr: s.RTMPAddr})

	// /metrics: bytes in grows between two scrapes; gauges count viewers.
	series := `sluice_stream_bytes_in_total{path="live/api"}`
	first := scrapeCounter(t, base, series)
	require.Equal(t, 1.0, scrapeCounter(t, base, `sluice_streams`))
	require.Equal(t, 1.0, scrapeCounter(t, base, `sluice_publishers{protocol="rtmp"}`))
	require.Equal(t, 1.0, scrapeCounter(t, base, `sluice_viewers{protocol="ws-flv"}`))
	require.Equal(t, 1.0, scrapeCounter(t, base, `sluice_stream_viewers{path="live/api",protocol="http-flv"}`))
	time.Sleep(1500 * time.Millisecond)
	second := scrapeCounter(t, base, series)
	require.Greater(t, second, first, "bytes in must grow while ffmpeg publishes")
	require.Greater(t, scrapeCounter(t, base, `sluice_stream_packets_in_total{path="live/api"}`), 0.0)

	// Clients: kick the HTTP-FLV viewer; it is disconnected, the rest play on.
	var clients api.ClientList
	require.Equal(t, http.StatusOK, apiCall(t, "GET", base+"/api/v1/streams/live/api/clients", &clients))
	require.Len(t, clients.Clients, 3, "%+v", clients)
	var flvID uint64
	for _, c := range clients.Clients {
		if c.Protocol == "http-flv" {
			flvID = c.ID
		}
	}
	require.NotZero(t, flvID)
	require.Equal(t, http.StatusNoContent, apiCall(t, "DELETE", base+"/api/v1/clients/"+strconv.FormatUint(flvID, 10), nil))
	hv.requireEnds(t, "kicked HTTP-FLV", 5*time.Second)
	var gone map[string]string
	require.Equal(t, http.StatusNotFound, apiCall(t, "DELETE", base+"/api/v1/clients/"+strconv.FormatUint(flvID, 10), &gone))
	require.Contains(t, gone["error"], "not found")
	var after api.Stream
	deadline = time.Now().Add(5 * time.Second)
	for {
		after = api.Stream{} // decode afresh: Unmarshal merges into a non-nil map
		require.Equal(t, http.StatusOK, apiCall(t, "GET", base+"/api/v1/streams/live/api", &after))
		if fmt.Sprint(after.Viewers.ByProtocol) == fmt.Sprint(map[string]int{"rtmp": 1, "ws-flv": 1}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the kick the API still counts viewers %+v", after.Viewers)
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, 2, after.Viewers.Total)
	rtmpBytes, wsBytes := rv.bytes.Load(), wv.bytes.Load()
	require.Eventually(t, func() bool { return rv.bytes.Load() > rtmpBytes && wv.bytes.Load() > wsBytes },
		5*time.Second, 100*time.Millisecond, "the other viewers keep playing")

	// Kick the publisher: the stream ends, the API 404s, ffmpeg exits and
	// the remaining viewers are disconnected.
	require.Equal(t, http.StatusNoContent, apiCall(t, "DELETE", base+"/api/v1/streams/live/api/publisher", nil))
	var notFound map[string]string
	require.Equal(t, http.StatusNotFound, apiCall(t, "GET", base+"/api/v1/streams/live/api", &notFound))
	require.Equal(t, "stream live/api not found", notFound["error"])
	select {
	case <-pub.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("ffmpeg publisher still running 15 s after the kick; stderr:\n%s", pub.Stderr())
	}
	rv.requireEnds(t, "RTMP", 10*time.Second)
	wv.requireEnds(t, "WS-FLV", 10*time.Second)
	require.Equal(t, http.StatusNotFound, apiCall(t, "DELETE", base+"/api/v1/streams/live/api/publisher", nil))
	require.Equal(t, 0.0, scrapeCounter(t, base, `sluice_streams`))
}

// TestAPIKey: with api.key set (SLUICE_API_KEY) every API request needs it;
// /metrics and /healthz stay open.
func TestAPIKey(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	const key = "e2e-0123456789abcdef"
	s := testutil.StartSluice(t, []string{"SLUICE_API_KEY=" + key})
	base := "http://" + s.HTTPAddr
	var e map[string]string
	require.Equal(t, http.StatusUnauthorized, apiCall(t, "GET", base+"/api/v1/streams", &e))
	require.Contains(t, e["error"], "missing API key")
	require.Equal(t, http.StatusUnauthorized, apiCall(t, "GET", base+"/api/v1/server", &e, "Authorization", "Bearer nope"))
	var list api.StreamList
	require.Equal(t, http.StatusOK, apiCall(t, "GET", base+"/api/v1/streams", &list, "Authorization", "Bearer "+key))
	require.Empty(t, list.Streams)
	require.Equal(t, http.StatusOK, apiCall(t, "GET", base+"/api/v1/server", nil, "X-API-Key", key))
	require.Equal(t, 0.0, scrapeCounter(t, base, "sluice_streams"))

	// The effective config: behind the key, the key itself redacted.
	require.Equal(t, http.StatusUnauthorized, apiCall(t, "GET", base+"/api/v1/config", &e))
	var cfg struct {
		API  struct{ Key string } `json:"api"`
		RTMP struct {
			Listen string `json:"listen"`
		} `json:"rtmp"`
	}
	require.Equal(t, http.StatusOK, apiCall(t, "GET", base+"/api/v1/config", &cfg, "X-API-Key", key))
	require.Equal(t, "REDACTED", cfg.API.Key)
	// testutil starts Sluice with SLUICE_RTMP_LISTEN=127.0.0.1:0: the
	// configured value, env overrides applied (the bound port is in
	// /api/v1/server).
	require.Equal(t, "127.0.0.1:0", cfg.RTMP.Listen)
}
