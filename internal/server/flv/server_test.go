package flvserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// setup publishes the first second of an ffmpeg-made clip straight into a
// hub and serves it over an httptest server.
func setup(t *testing.T) (*httptest.Server, *hub.Hub) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Options{Logger: quiet})
	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{}))
	require.NoError(t, err)
	pub, err := h.Publish("live/x", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	var d flv.Demuxer
	for _, tag := range append(append([]flv.Tag{}, clip.Config...), clip.Media[:80]...) {
		var err error
		switch tag.Type {
		case flv.TagVideo:
			p, e := d.Video(int64(tag.Timestamp), tag.Body)
			err = e
			if p != nil {
				require.NoError(t, pub.WritePacket(p))
			}
		case flv.TagAudio:
			p, e := d.Audio(int64(tag.Timestamp), tag.Body)
			err = e
			if p != nil {
				require.NoError(t, pub.WritePacket(p))
			}
		}
		require.NoError(t, err)
	}
	pub.Announce(true, true)
	srv := &Server{Hub: h, Logger: quiet}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The router's CORS header must reach the response, hijacked or not.
		w.Header().Set("Access-Control-Allow-Origin", "https://page.example")
		srv.ServeStream(w, r, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".flv"), auth.Grant{})
	}))
	t.Cleanup(func() {
		h.Close()
		ts.Close()
	})
	return ts, h
}

// requireFLVStart checks an FLV byte stream opens with the header flags for
// audio+video, onMetaData, both sequence headers and then a video keyframe.
func requireFLVStart(t *testing.T, r io.Reader) {
	t.Helper()
	fr := flv.NewReader(r, 0)
	hasVideo, hasAudio, err := fr.ReadHeader()
	require.NoError(t, err)
	require.True(t, hasVideo && hasAudio)
	tag, err := fr.ReadTag()
	require.NoError(t, err)
	require.Equal(t, uint8(flv.TagScript), tag.Type, "onMetaData first")
	require.True(t, bytes.Contains(tag.Body, []byte("onMetaData")))
	sawV, sawA := false, false
	for {
		tag, err := fr.ReadTag()
		require.NoError(t, err)
		if tag.Type == flv.TagAudio {
			a, err := flv.ParseAudio(tag.Body)
			require.NoError(t, err)
			if a.PacketType == flv.SequenceHeader {
				sawA = true
			}
			continue
		}
		v, err := flv.ParseVideo(tag.Body)
		require.NoError(t, err)
		if v.PacketType == flv.SequenceHeader {
			sawV = true
			continue
		}
		require.True(t, sawV, "video sequence header before frames")
		require.True(t, sawA, "audio sequence header in the GOP-cache burst")
		require.True(t, v.Key, "first frame is a keyframe")
		break
	}
}

func TestHTTPFLV(t *testing.T) {
	testutil.CheckGoroutines(t)
	ts, _ := setup(t)
	resp, err := http.Get(ts.URL + "/live/x.flv")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "video/x-flv", resp.Header.Get("Content-Type"))
	require.Equal(t, "https://page.example", resp.Header.Get("Access-Control-Allow-Origin"), "the caller's header")
	require.Equal(t, []string{"chunked"}, resp.TransferEncoding)
	requireFLVStart(t, resp.Body)
}

func TestWSFLV(t *testing.T) {
	testutil.CheckGoroutines(t)
	ts, _ := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/live/x.flv", nil)
	require.NoError(t, err)
	defer ws.CloseNow()
	ws.SetReadLimit(-1)
	var buf bytes.Buffer
	for buf.Len() < 50_000 {
		typ, msg, err := ws.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageBinary, typ)
		buf.Write(msg)
	}
	requireFLVStart(t, &buf)
}

func TestUnknownStream404(t *testing.T) {
	ts, _ := setup(t)
	resp, err := http.Get(ts.URL + "/live/nope.flv")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestStreamEndClosesResponse(t *testing.T) {
	ts, h := setup(t)
	resp, err := http.Get(ts.URL + "/live/x.flv")
	require.NoError(t, err)
	defer resp.Body.Close()
	h.Close()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	select {
	case err := <-done:
		require.NoError(t, err, "the chunked body ends cleanly")
	case <-time.After(5 * time.Second):
		t.Fatal("response not ended after the stream ended")
	}
}
