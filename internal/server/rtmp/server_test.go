package rtmpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

func startServer(t *testing.T) (addr string, h *hub.Hub) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h = hub.New(hub.Options{Logger: quiet, RepublishGrace: 100 * time.Millisecond})
	srv := &Server{Hub: h, Logger: quiet}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln, "rtmp") }()
	t.Cleanup(func() {
		h.Close()
		require.NoError(t, srv.Close())
		<-done
	})
	return ln.Addr().String(), h
}

// TestPublishThenPlay runs our RTMP client against the server in process:
// a replayed ffmpeg clip is published, a player gets metadata, sequence
// headers and a keyframe first; a second publisher is refused; nothing
// leaks after shutdown.
func TestPublishThenPlay(t *testing.T) {
	testutil.CheckGoroutines(t)
	addr, _ := startServer(t)
	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{}))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pctx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan error, 1)
	go func() { pubDone <- (&replay.Publisher{URL: "rtmp://" + addr + "/live/x", Clip: clip}).Run(pctx) }()

	var player *rtmp.Client
	require.Eventually(t, func() bool {
		c, err := rtmp.Dial(ctx, "rtmp://"+addr+"/live/x", nil)
		if err != nil {
			return false
		}
		if err := c.Play(ctx); err != nil {
			c.Close()
			return false
		}
		player = c
		return true
	}, 10*time.Second, 50*time.Millisecond)
	defer player.Close()

	sawMeta, sawVideoHdr, sawAudioHdr := false, false, false
	for frames := 0; frames < 10; {
		m, err := player.ReadMessage()
		require.NoError(t, err)
		switch m.Type {
		case rtmp.MsgDataAMF0:
			vals, err := rtmp.ParseData(m)
			require.NoError(t, err)
			if len(vals) > 0 && vals[0] == "onMetaData" {
				sawMeta = true
			}
		case rtmp.MsgVideo:
			v, err := flv.ParseVideo(m.Payload)
			require.NoError(t, err)
			if v.PacketType == flv.SequenceHeader {
				sawVideoHdr = true
				continue
			}
			require.True(t, sawMeta, "onMetaData precedes media")
			require.True(t, sawVideoHdr, "video sequence header precedes the first frame")
			if frames == 0 {
				require.True(t, v.Key, "first frame is a keyframe")
			}
			frames++
		case rtmp.MsgAudio:
			a, err := flv.ParseAudio(m.Payload)
			require.NoError(t, err)
			if a.PacketType == flv.SequenceHeader {
				sawAudioHdr = true
			} else {
				require.True(t, sawAudioHdr, "audio sequence header precedes audio frames")
			}
		}
	}

	second, err := rtmp.Dial(ctx, "rtmp://"+addr+"/live/x", nil)
	require.NoError(t, err)
	err = second.Publish(ctx)
	var se *rtmp.StatusError
	require.True(t, errors.As(err, &se), "got %v", err)
	require.Equal(t, "NetStream.Publish.BadName", se.Code)
	second.Close()

	stopPub()
	require.NoError(t, <-pubDone)
}

func TestPlayUnknownStreamIsRefused(t *testing.T) {
	testutil.CheckGoroutines(t)
	addr, _ := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+addr+"/live/none", nil)
	require.NoError(t, err)
	defer c.Close()
	err = c.Play(ctx)
	var se *rtmp.StatusError
	require.True(t, errors.As(err, &se), "got %v", err)
	require.Equal(t, "NetStream.Play.StreamNotFound", se.Code)
}

func TestInvalidPathIsRefused(t *testing.T) {
	addr, _ := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+addr+"/live/bad%20name", nil)
	require.NoError(t, err)
	defer c.Close()
	err = c.Publish(ctx)
	var se *rtmp.StatusError
	require.True(t, errors.As(err, &se), "got %v", err)
	require.Equal(t, "NetStream.Publish.BadName", se.Code)
}
