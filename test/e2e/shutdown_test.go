package e2e

import (
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestSIGTERMStopsGracefully: with a publisher and a viewer connected,
// SIGTERM makes the server end the viewer's stream cleanly and exit 0 within
// the contract's 5 s.
func TestSIGTERMStopsGracefully(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	pub := testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/bye", testutil.PublishOptions{})
	waitForStream(t, s, "live/bye")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/bye.flv")
	require.NoError(t, err)
	readTagsFor(t, st, 500*time.Millisecond)

	start := time.Now()
	require.NoError(t, s.Signal(syscall.SIGTERM))
	require.NoError(t, s.Wait(5*time.Second), "sluice must exit 0 within 5 s of SIGTERM")
	t.Logf("stopped in %s", time.Since(start))

	// The viewer's response ended cleanly (terminating chunk, then EOF).
	var readErr error
	for readErr == nil {
		_, readErr = st.r.ReadTag()
	}
	require.ErrorIs(t, readErr, io.EOF, "viewer stream must end cleanly")
	// The publisher was disconnected.
	require.Error(t, pub.Wait(10*time.Second), "ffmpeg publisher must see the server go away")
}
