package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// fakeHub is a hand fake: each method calls its func field (nil: zero).
type fakeHub struct {
	streams       func() []hub.Stats
	stream        func(path string) (hub.Stats, bool)
	clients       func(path string) ([]hub.ClientStats, bool)
	kickPublisher func(path, reason string) bool
	kickClient    func(id uint64) bool
}

var _ Hub = (*fakeHub)(nil)

func (f *fakeHub) Streams() []hub.Stats {
	if f.streams == nil {
		return nil
	}
	return f.streams()
}

func (f *fakeHub) Stream(path string) (hub.Stats, bool) {
	if f.stream == nil {
		return hub.Stats{}, false
	}
	return f.stream(path)
}

func (f *fakeHub) Clients(path string) ([]hub.ClientStats, bool) {
	if f.clients == nil {
		return nil, false
	}
	return f.clients(path)
}

func (f *fakeHub) KickPublisher(path, reason string) bool {
	return f.kickPublisher != nil && f.kickPublisher(path, reason)
}

func (f *fakeHub) KickClient(id uint64) bool { return f.kickClient != nil && f.kickClient(id) }

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable Options.Now.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func sampleStats() hub.Stats {
	return hub.Stats{
		Path:        "live/cam1",
		Created:     t0,
		Publisher:   &hub.ClientInfo{Protocol: "rtmp", Remote: "10.0.0.9:50000"},
		PublishedAt: t0.Add(time.Second),
		Video:       &av.Track{Codec: av.CodecH264, Width: 320, Height: 240, CodecString: "avc1.64000d"},
		Audio:       &av.Track{Codec: av.CodecAAC, SampleRate: 44100, Channels: 2, CodecString: "mp4a.40.2"},
		BytesIn:     125000,
		PacketsIn:   900,
		Readers:     map[string]int{"rtmp": 1, "http-flv": 2, "ws-flv": 1},
		Skips:       4,
		Drops:       1,
		Republishes: 2,
	}
}

func newTestServer(h Hub, clk *clock, key string) *Server {
	return New(Options{
		Hub: h, Key: key, Version: "v9.9.9", Started: t0, Now: clk.Now,
		Listeners: func() []Listener {
			return []Listener{{Name: "rtmp", Addr: "[::]:1935"}, {Name: "http", Addr: "[::]:8080"}}
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// do runs one request from a loopback client and returns status and body.
func do(t *testing.T, h http.Handler, method, target string, hdr ...string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "RemoteAddr" {
			req.RemoteAddr = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	if rec.Body.Len() > 0 {
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"), "%s %s", method, target)
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	}
	return rec, body
}

func TestListStreams(t *testing.T) {
	clk := &clock{now: t0.Add(10 * time.Second)}
	srv := newTestServer(&fakeHub{streams: func() []hub.Stats { return []hub.Stats{sampleStats()} }}, clk, "")
	rec, _ := do(t, srv, "GET", "/api/v1/streams")
	require.Equal(t, http.StatusOK, rec.Code)
	var got StreamList
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Len(t, got.Streams, 1)
	s := got.Streams[0]
	require.Equal(t, "live/cam1", s.Path)
	require.Equal(t, &Publisher{Protocol: "rtmp", Remote: "10.0.0.9:50000", Since: t0.Add(time.Second)}, s.Publisher)
	require.Equal(t, &VideoTrack{Codec: "h264", CodecString: "avc1.64000d", Width: 320, Height: 240}, s.Tracks.Video)
	require.Equal(t, &AudioTrack{Codec: "aac", CodecString: "mp4a.40.2", SampleRate: 44100, Channels: 2}, s.Tracks.Audio)
	require.Equal(t, Viewers{Total: 4, ByProtocol: map[string]int{"rtmp": 1, "http-flv": 2, "ws-flv": 1}}, s.Viewers)
	require.Equal(t, 10.0, s.UptimeSeconds)
	require.Equal(t, uint64(125000), s.BytesIn)
	require.Equal(t, uint64(900), s.PacketsIn)
	require.Equal(t, uint64(4), s.Skips)
	require.Equal(t, uint64(1), s.Drops)
	require.Equal(t, uint64(2), s.Republishes)
	// First query: the average since creation, 125000 B * 8 / 10 s = 100 kbit/s.
	require.Equal(t, 100.0, s.BitrateInKbps)
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}

func TestListStreamsEmptyIsArray(t *testing.T) {
	srv := newTestServer(&fakeHub{}, &clock{now: t0}, "")
	rec, _ := do(t, srv, "GET", "/api/v1/streams")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"streams": []}`, rec.Body.String())
}

func TestStreamWithoutPublisherOrTracks(t *testing.T) {
	st := hub.Stats{Path: "live/x", Created: t0, Readers: map[string]int{}}
	srv := newTestServer(&fakeHub{stream: func(string) (hub.Stats, bool) { return st, true }}, &clock{now: t0}, "")
	rec, body := do(t, srv, "GET", "/api/v1/streams/live/x")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Nil(t, body["publisher"])
	require.Equal(t, map[string]any{}, body["tracks"])
	require.Equal(t, map[string]any{"total": 0.0, "by_protocol": map[string]any{}}, body["viewers"])
	require.Equal(t, 0.0, body["bitrate_in_kbps"])
}

func TestGetStreamAndNotFound(t *testing.T) {
	var asked []string
	h := &fakeHub{stream: func(path string) (hub.Stats, bool) {
		asked = append(asked, path)
		if path == "live/cam1" {
			return sampleStats(), true
		}
		return hub.Stats{}, false
	}}
	srv := newTestServer(h, &clock{now: t0.Add(time.Second)}, "")
	rec, body := do(t, srv, "GET", "/api/v1/streams/live/cam1")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "live/cam1", body["path"])

	rec, body = do(t, srv, "GET", "/api/v1/streams/live/nope")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "stream live/nope not found", body["error"])

	rec, body = do(t, srv, "GET", "/api/v1/streams/api/x")
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, body["error"], "reserved")
	require.Equal(t, []string{"live/cam1", "live/nope"}, asked, "invalid paths never reach the hub")
}

// bitrate_in_kbps is a moving window over BytesIn samples taken at queries.
func TestBitrateMovingWindow(t *testing.T) {
	clk := &clock{now: t0.Add(10 * time.Second)}
	st := sampleStats() // 125000 bytes at t0+10s
	srv := newTestServer(&fakeHub{stream: func(string) (hub.Stats, bool) { return st, true }}, clk, "")
	get := func() float64 {
		_, body := do(t, srv, "GET", "/api/v1/streams/live/cam1")
		return body["bitrate_in_kbps"].(float64)
	}
	require.Equal(t, 100.0, get(), "first query: average since creation")

	clk.now = clk.now.Add(500 * time.Millisecond)
	st.BytesIn += 100000
	require.Equal(t, 171.4, get(), "under 1 s since the first sample: still the lifetime average")

	clk.now = clk.now.Add(1500 * time.Millisecond) // 2 s after the first sample
	st.BytesIn += 150000                           // 250000 B in 2 s = 1000 kbit/s
	require.Equal(t, 1000.0, get())

	// Far later, only the last window counts: 20 s of 500 kbit/s, then a
	// window of 2000 kbit/s.
	for i := 0; i < 20; i++ {
		clk.now = clk.now.Add(time.Second)
		st.BytesIn += 62500
		get()
	}
	for i := 0; i < 10; i++ {
		clk.now = clk.now.Add(time.Second)
		st.BytesIn += 250000
		get()
	}
	clk.now = clk.now.Add(time.Second)
	st.BytesIn += 250000
	require.Equal(t, 2000.0, get())

	// A new stream at the same path starts over.
	st = hub.Stats{Path: "live/cam1", Created: clk.now.Add(-2 * time.Second), BytesIn: 50000, Readers: map[string]int{}}
	require.Equal(t, 200.0, get())
}

func TestListClients(t *testing.T) {
	since := t0.Add(3 * time.Second)
	h := &fakeHub{clients: func(path string) ([]hub.ClientStats, bool) {
		if path != "live/cam1" {
			return nil, false
		}
		return []hub.ClientStats{
			{ID: 9, ClientInfo: hub.ClientInfo{Protocol: "ws-flv", Remote: "10.0.0.2:2"}, Since: since, Skips: 1},
			{ID: 7, ClientInfo: hub.ClientInfo{Protocol: "rtmp", Remote: "10.0.0.1:1"}, Since: since, Kicked: true},
		}, true
	}}
	srv := newTestServer(h, &clock{now: t0.Add(5 * time.Second)}, "")
	rec, _ := do(t, srv, "GET", "/api/v1/streams/live/cam1/clients")
	require.Equal(t, http.StatusOK, rec.Code)
	var got ClientList
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, ClientList{Path: "live/cam1", Clients: []Client{
		{ID: 7, Protocol: "rtmp", Remote: "10.0.0.1:1", Since: since, ConnectedSeconds: 2, Kicked: true},
		{ID: 9, Protocol: "ws-flv", Remote: "10.0.0.2:2", Since: since, ConnectedSeconds: 2, Skips: 1},
	}}, got)

	rec, body := do(t, srv, "GET", "/api/v1/streams/live/other/clients")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "stream live/other not found", body["error"])
}

func TestKickPublisher(t *testing.T) {
	var kicked []string
	h := &fakeHub{kickPublisher: func(path, reason string) bool {
		kicked = append(kicked, path)
		require.Contains(t, reason, "API")
		return path == "live/cam1"
	}}
	srv := newTestServer(h, &clock{now: t0}, "")
	rec, _ := do(t, srv, "DELETE", "/api/v1/streams/live/cam1/publisher")
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Empty(t, rec.Body.String())

	rec, body := do(t, srv, "DELETE", "/api/v1/streams/live/gone/publisher")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "stream live/gone not found", body["error"])
	require.Equal(t, []string{"live/cam1", "live/gone"}, kicked)

	rec, body = do(t, srv, "GET", "/api/v1/streams/live/cam1/publisher")
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "DELETE", rec.Header().Get("Allow"))
	require.Contains(t, body["error"], "not allowed")
}

func TestKickClient(t *testing.T) {
	var got []uint64
	srv := newTestServer(&fakeHub{kickClient: func(id uint64) bool { got = append(got, id); return id == 7 }}, &clock{now: t0}, "")
	rec, _ := do(t, srv, "DELETE", "/api/v1/clients/7")
	require.Equal(t, http.StatusNoContent, rec.Code)
	rec, body := do(t, srv, "DELETE", "/api/v1/clients/8")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Equal(t, "client 8 not found", body["error"])
	for _, bad := range []string{"0", "abc", "-1", "99999999999999999999999"} {
		rec, body = do(t, srv, "DELETE", "/api/v1/clients/"+bad)
		require.Equal(t, http.StatusBadRequest, rec.Code, bad)
		require.Contains(t, body["error"], "positive integer")
	}
	require.Equal(t, []uint64{7, 8}, got)
}

func TestServerInfo(t *testing.T) {
	two := sampleStats()
	two.Path, two.Publisher, two.Readers = "live/b", nil, map[string]int{"rtmp": 2}
	h := &fakeHub{streams: func() []hub.Stats { return []hub.Stats{sampleStats(), two} }}
	srv := newTestServer(h, &clock{now: t0.Add(90 * time.Second)}, "")
	rec, _ := do(t, srv, "GET", "/api/v1/server")
	require.Equal(t, http.StatusOK, rec.Code)
	var got ServerInfo
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, "v9.9.9", got.Version)
	require.True(t, strings.HasPrefix(got.GoVersion, "go"), got.GoVersion)
	require.Equal(t, 90.0, got.UptimeSeconds)
	require.True(t, got.Started.Equal(t0))
	require.Equal(t, []Listener{{"rtmp", "[::]:1935"}, {"http", "[::]:8080"}}, got.Listeners)
	require.Equal(t, 2, got.Streams)
	require.Equal(t, 1, got.Publishers)
	require.Equal(t, Viewers{Total: 6, ByProtocol: map[string]int{"rtmp": 3, "http-flv": 2, "ws-flv": 1}}, got.Viewers)
}

func TestUnknownEndpointAndMethod(t *testing.T) {
	srv := newTestServer(&fakeHub{}, &clock{now: t0}, "")
	rec, body := do(t, srv, "GET", "/api/v1/nothing")
	require.Equal(t, http.StatusNotFound, rec.Code)
	require.Contains(t, body["error"], "no such API endpoint")

	rec, body = do(t, srv, "POST", "/api/v1/streams")
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	require.Contains(t, body["error"], "POST not allowed")
}

func TestLoopbackOnlyWithoutKey(t *testing.T) {
	srv := newTestServer(&fakeHub{}, &clock{now: t0}, "")
	for _, remote := range []string{"127.0.0.1:1", "[::1]:2", "127.8.9.10:3"} {
		rec, _ := do(t, srv, "GET", "/api/v1/streams", "RemoteAddr", remote)
		require.Equal(t, http.StatusOK, rec.Code, remote)
	}
	for _, remote := range []string{"10.0.0.1:1", "[2001:db8::1]:2", "192.168.1.2:3", "garbage"} {
		rec, body := do(t, srv, "GET", "/api/v1/streams", "RemoteAddr", remote,
			"X-Forwarded-For", "127.0.0.1")
		require.Equal(t, http.StatusForbidden, rec.Code, remote)
		require.Contains(t, body["error"], "SLUICE_API_KEY", "the message says how to set a key")
		require.Contains(t, body["error"], "api.key")
	}
}

func TestAPIKeyRequired(t *testing.T) {
	const key = "0123456789abcdef-key"
	kicks := 0
	srv := newTestServer(&fakeHub{kickClient: func(uint64) bool { kicks++; return true }}, &clock{now: t0}, key)
	// With a key, even loopback clients must present it.
	rec, body := do(t, srv, "GET", "/api/v1/streams")
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Contains(t, body["error"], "missing API key")
	require.Equal(t, `Bearer realm="sluice"`, rec.Header().Get("WWW-Authenticate"))

	rec, body = do(t, srv, "DELETE", "/api/v1/clients/3", "Authorization", "Bearer wrong-key-0123456789")
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Equal(t, "invalid API key", body["error"])
	require.Zero(t, kicks, "an unauthorized request does nothing")

	for _, hdr := range [][]string{
		{"Authorization", "Bearer " + key},
		{"Authorization", "bearer " + key},
		{"X-API-Key", key},
	} {
		rec, _ = do(t, srv, "GET", "/api/v1/streams", append(hdr, "RemoteAddr", "203.0.113.5:1")...)
		require.Equal(t, http.StatusOK, rec.Code, hdr)
	}
	rec, _ = do(t, srv, "DELETE", "/api/v1/clients/3", "X-API-Key", key)
	require.Equal(t, http.StatusNoContent, rec.Code)
	require.Equal(t, 1, kicks)
	rec, _ = do(t, srv, "GET", "/api/v1/streams", "Authorization", "Basic "+key)
	require.Equal(t, http.StatusUnauthorized, rec.Code, "only the Bearer scheme")
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:80": true, "[::ffff:127.0.0.1]:80": true, "::1": true,
		"[fe80::1%lo]:80": false, "10.1.1.1:80": false, "": false, "localhost:80": false,
	} {
		require.Equal(t, want, isLoopback(addr), addr)
	}
}
