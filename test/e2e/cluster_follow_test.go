package e2e

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestClusterEdgeViewerFollowsOwnerChange: a viewer on a third node C
// watches a stream owned by A; A is killed (-9), the encoder reconnects to
// B once A's claim expires, and C's pull follows the path to B: the
// viewer's connection stays open and its video continues (new frames
// after B took over), with no player reconnect.
func TestClusterEdgeViewerFollowsOwnerChange(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	r := testutil.StartRedis(t)
	a := startOrigin(t, r.URL(), "a")
	b := startOrigin(t, r.URL(), "b")
	c := startNode(t, r.URL(), "c", "SLUICE_CLUSTER_SECRET="+clusterSecret, "SLUICE_CLUSTER_ROLE=edge")
	testutil.PublishTestPattern(t, "rtmp://"+a.RTMPAddr+"/live/follow", testutil.PublishOptions{})
	waitForStream(t, a, "live/follow")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, "http://"+c.HTTPAddr+"/live/follow.flv")
	require.NoError(t, err, "HTTP-FLV from edge c")
	var frames atomic.Int64
	readErr := make(chan error, 1)
	go func() {
		for {
			tag, err := st.r.ReadTag()
			if err != nil {
				readErr <- err
				return
			}
			if tag.Type == flv.TagVideo && len(tag.Body) > 1 && tag.Body[1] == 1 {
				frames.Add(1)
			}
		}
	}()
	require.Eventually(t, func() bool { return frames.Load() >= 25 }, 20*time.Second, 50*time.Millisecond,
		"c's viewer got no video from a")

	require.NoError(t, a.Cmd.Process.Kill())
	killed := time.Now()
	for {
		err := tryPublish(t, b, "live/follow")
		if err == nil {
			break
		}
		require.Equal(t, "NetStream.Publish.BadName", statusCode(err), "only busy while a's claim lives: %v", err)
		require.Less(t, time.Since(killed), clusterTTL+5*time.Second, "publisher on b not accepted within TTL + 5 s")
		time.Sleep(100 * time.Millisecond) // an encoder's retry interval
	}
	testutil.PublishTestPattern(t, "rtmp://"+b.RTMPAddr+"/live/follow", testutil.PublishOptions{})
	published := time.Now()
	before := frames.Load()
	var again time.Duration
	require.Eventually(t, func() bool {
		select {
		case err := <-readErr:
			t.Fatalf("c's viewer was disconnected while the path moved: %v", err)
		default:
		}
		n := frames.Load()
		if again == 0 && n > before {
			again = time.Since(published)
		}
		return n >= before+50
	}, 20*time.Second, 20*time.Millisecond, "c's viewer got no video from b after it took the path over")
	t.Logf("edge viewer: video again %s after the encoder published on b (%s after a was killed)",
		again.Round(10*time.Millisecond), (published.Sub(killed) + again).Round(10*time.Millisecond))
}
