package srtserver

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	gosrt "github.com/datarhei/gosrt"
	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/mpegts"
	"github.com/sluicemedia/sluice/internal/testutil"
)

func startServer(t *testing.T, srv *Server) (addr string, h *hub.Hub) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h = hub.New(hub.Options{Logger: quiet, RepublishGrace: 100 * time.Millisecond})
	srv.Hub, srv.Logger = h, quiet
	require.NoError(t, srv.Listen("127.0.0.1:0"))
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve() }()
	t.Cleanup(func() {
		h.Close()
		require.NoError(t, srv.Close())
		<-done
	})
	return srv.Addr().String(), h
}

func dial(addr, streamID string) (gosrt.Conn, error) {
	cfg := gosrt.DefaultConfig()
	cfg.StreamId = streamID
	return gosrt.Dial("srt", addr, cfg)
}

// publishLoop sends the test clip over c, over and over, until ctx ends.
func publishLoop(ctx context.Context, t *testing.T, c gosrt.Conn) {
	ts, err := os.ReadFile("../../mpegts/testdata/h264_aac.ts")
	require.NoError(t, err)
	go func() {
		for ctx.Err() == nil {
			for i := 0; i < len(ts) && ctx.Err() == nil; i += 1316 {
				if _, err := c.Write(ts[i:min(i+1316, len(ts))]); err != nil {
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
}

// videoSink counts video packets and signals after n.
type videoSink struct {
	mu    sync.Mutex
	n     int
	first *av.Packet
	done  chan struct{}
	want  int
}

func (s *videoSink) Announce(bool, bool) {}
func (s *videoSink) WritePacket(p *av.Packet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.Kind() == av.KindVideo {
		if s.first == nil {
			s.first = p
		}
		s.n++
		if s.n == s.want {
			close(s.done)
		}
	}
	return nil
}

// TestPublishThenRead: a publisher's TS becomes a hub stream, a second
// publisher of the path is rejected at handshake, a reader gets TS that
// starts at a keyframe, and nothing leaks.
func TestPublishThenRead(t *testing.T) {
	testutil.CheckGoroutines(t)
	srv := &Server{}
	addr, h := startServer(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	pc, err := dial(addr, "publish:live/t")
	require.NoError(t, err)
	defer pc.Close()
	publishLoop(ctx, t, pc)
	require.Eventually(t, func() bool {
		s := h.Stream("live/t")
		if s == nil {
			return false
		}
		v, a := s.Tracks()
		return v != nil && a != nil
	}, 10*time.Second, 10*time.Millisecond, "stream with video and audio tracks")
	st := h.Stream("live/t").Stats()
	require.Equal(t, Proto, st.Publisher.Protocol)
	require.Equal(t, 1, srv.Stats().Publishers)

	_, err = dial(addr, "publish:live/t")
	require.Error(t, err, "a second publisher is rejected")
	_, err = dial(addr, "publish:nopath")
	require.Error(t, err, "a bad streamid is rejected")
	_, err = dial(addr, "read:live/none")
	require.Error(t, err, "reading nothing is rejected")
	require.Eventually(t, func() bool {
		r := srv.Stats().Refused
		return r["busy"] == 1 && r["bad_streamid"] == 1 && r["not_found"] == 1
	}, 5*time.Second, 10*time.Millisecond, "refusals counted: %v", srv.Stats().Refused)

	rc, err := dial(addr, "#!::r=live/t,m=request")
	require.NoError(t, err)
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, err := rc.Read(buf)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := pw.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	sink := &videoSink{want: 5, done: make(chan struct{})}
	demuxed := make(chan error, 1)
	go func() { demuxed <- mpegts.Demux(pr, sink, mpegts.DemuxOptions{}) }()
	select {
	case <-sink.done:
	case err := <-demuxed:
		t.Fatalf("reader's TS ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("reader got no 5 video frames within 10s")
	}
	sink.mu.Lock()
	require.True(t, sink.first.Key, "the reader starts at a keyframe")
	sink.mu.Unlock()
	require.Equal(t, 1, srv.Stats().Readers)
	rc.Close()
	pr.Close()
	<-demuxed
	require.Eventually(t, func() bool { return srv.Stats().Readers == 0 }, 10*time.Second, 10*time.Millisecond,
		"a reader that left is gone")

	// Kicking the stream (API, shutdown) disconnects its SRT publisher.
	require.True(t, h.Stream("live/t").Kick("test kick"))
	require.Eventually(t, func() bool { return srv.Stats().Publishers == 0 }, 5*time.Second, 10*time.Millisecond,
		"a kicked publisher is disconnected")
}

// denyAll refuses every request.
type denyAll struct{}

func (denyAll) Authorize(context.Context, auth.Request) error { return auth.ErrUnauthorized }
func (denyAll) Ended(auth.Request)                            {}

// TestRejectsAtHandshake: a denied credential and a passphrase mismatch
// never get a connection.
func TestRejectsAtHandshake(t *testing.T) {
	testutil.CheckGoroutines(t)
	srv := &Server{Auth: denyAll{}}
	addr, _ := startServer(t, srv)
	_, err := dial(addr, "publish:live/x?key=nope")
	require.Error(t, err)

	srv2 := &Server{Passphrase: func(string) string { return "0123456789abc" }}
	addr2, _ := startServer(t, srv2)
	cfg := gosrt.DefaultConfig()
	cfg.StreamId = "publish:live/x"
	cfg.Passphrase = "not-the-passphrase"
	_, err = gosrt.Dial("srt", addr2, cfg)
	require.Error(t, err)
	_, err = dial(addr2, "publish:live/x")
	require.Error(t, err, "no encryption on a path with a passphrase")
	require.Eventually(t, func() bool {
		return srv.Stats().Refused["auth"] == 1 && srv2.Stats().Refused["passphrase"] == 2
	}, 5*time.Second, 10*time.Millisecond)
}

// TestMaxConnections: past MaxConnections a caller is rejected at
// handshake; the connected one keeps publishing.
func TestMaxConnections(t *testing.T) {
	testutil.CheckGoroutines(t)
	srv := &Server{MaxConnections: 1}
	addr, h := startServer(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pc, err := dial(addr, "publish:live/one")
	require.NoError(t, err)
	defer pc.Close()
	publishLoop(ctx, t, pc)
	require.Eventually(t, func() bool { return h.Stream("live/one") != nil }, 10*time.Second, 10*time.Millisecond)
	_, err = dial(addr, "publish:live/two")
	require.Error(t, err, "a second connection over the cap")
	require.Equal(t, uint64(1), srv.Stats().Refused["overload"])
	require.Equal(t, 1, srv.Stats().Publishers)
}
