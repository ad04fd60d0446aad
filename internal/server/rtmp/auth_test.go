package rtmpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// fakeAuth is a hand fake of Authorizer: it allows the token "k".
type fakeAuth struct {
	mu    sync.Mutex
	ended []auth.Request
}

func (f *fakeAuth) Authorize(_ context.Context, req auth.Request) error {
	if req.Token == "k" {
		return nil
	}
	return fmt.Errorf("%w: %s %s needs a key", auth.ErrUnauthorized, req.Action, req.Path)
}

func (f *fakeAuth) Ended(req auth.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, req)
}

func (f *fakeAuth) endedReqs() []auth.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]auth.Request(nil), f.ended...)
}

func startAuthServer(t *testing.T, a Authorizer) string {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Options{Logger: quiet, RepublishGrace: 100 * time.Millisecond})
	srv := &Server{Hub: h, Logger: quiet, Auth: a}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln, "rtmp") }()
	t.Cleanup(func() {
		h.Close()
		require.NoError(t, srv.Close())
		<-done
	})
	return ln.Addr().String()
}

func TestAuthPublishAndPlay(t *testing.T) {
	testutil.CheckGoroutines(t)
	fa := &fakeAuth{}
	addr := startAuthServer(t, fa)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	try := func(url string, publish bool) (*rtmp.Client, error) {
		c, err := rtmp.Dial(ctx, url, nil)
		require.NoError(t, err)
		if publish {
			err = c.Publish(ctx)
		} else {
			err = c.Play(ctx)
		}
		return c, err
	}

	c, err := try("rtmp://"+addr+"/live/x", true)
	var se *rtmp.StatusError
	require.True(t, errors.As(err, &se), "got %v", err)
	require.Equal(t, "NetStream.Publish.BadName", se.Code)
	require.Equal(t, "unauthorized: publish live/x needs a key", se.Description)
	// The server closes the connection after the refusal.
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = c.ReadMessage()
	require.Error(t, err)
	require.NotErrorIs(t, err, context.DeadlineExceeded)
	c.Close()

	c, err = try("rtmp://"+addr+"/live/x?token=bad", false)
	require.True(t, errors.As(err, &se), "got %v", err)
	require.Equal(t, "NetStream.Play.Failed", se.Code)
	require.Contains(t, se.Description, "play live/x needs a key")
	c.Close()
	require.Empty(t, fa.endedReqs(), "denied clients are not notified")

	pub, err := try("rtmp://"+addr+"/live/x?key=k&a=b", true)
	require.NoError(t, err)
	require.NoError(t, pub.Close())
	require.Eventually(t, func() bool { return len(fa.endedReqs()) == 1 }, 5*time.Second, 10*time.Millisecond)
	got := fa.endedReqs()[0]
	require.Equal(t, auth.Publish, got.Action)
	require.Equal(t, "live/x", got.Path)
	require.Equal(t, "rtmp", got.Protocol)
	require.Equal(t, "k", got.Token)
	require.Equal(t, "b", got.Query.Get("a"))
}
