package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// clusterTTL is the claim TTL of the cluster tests: short for quick moves,
// long enough (refresh timeout TTL/4 = 1 s) for a loaded race build.
const clusterTTL = 4 * time.Second

// startNode runs one sluice node of a cluster on redisURL.
func startNode(t *testing.T, redisURL, id string, env ...string) *testutil.Sluice {
	t.Helper()
	return testutil.StartSluice(t, append([]string{
		"SLUICE_CLUSTER_REDIS=" + redisURL,
		"SLUICE_CLUSTER_NODE_ID=" + id,
		"SLUICE_CLUSTER_TTL=" + clusterTTL.String(),
	}, env...))
}

// tryPublish publishes path on s with our RTMP client and returns the
// refusal (nil: accepted; the connection is closed again at once).
func tryPublish(t *testing.T, s *testutil.Sluice, path string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+s.RTMPAddr+"/"+path, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Publish(ctx)
}

// statusCode returns the onStatus code of a refused publish, or "".
func statusCode(err error) string {
	var se *rtmp.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// requireLive checks a viewer of path on s gets live media for 2 s.
func requireLive(t *testing.T, s *testutil.Sluice, path, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/"+path+".flv")
	require.NoError(t, err, what)
	_, ts1 := readTagsFor(t, st, time.Second)
	n, ts2 := readTagsFor(t, st, 2*time.Second)
	require.Greater(t, n, 50, "%s: media tags in 2 s", what)
	require.Greater(t, ts2, ts1+1500, "%s: timestamps advance in real time", what)
}

func TestClusterPublishOnOtherNodeRefused(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	r := testutil.StartRedis(t)
	a := startNode(t, r.URL(), "a")
	b := startNode(t, r.URL(), "b")
	testutil.PublishTestPattern(t, "rtmp://"+a.RTMPAddr+"/live/own", testutil.PublishOptions{})
	waitForStream(t, a, "live/own")

	err := tryPublish(t, b, "live/own")
	require.Equal(t, "NetStream.Publish.BadName", statusCode(err),
		"a publish on b of a path a owns must be refused as busy, got %v", err)
	waitLog(t, b, "publish refused, path owned by another node")

	// A real encoder on b gives up too, and a is unaffected.
	second := testutil.PublishTestPattern(t, "rtmp://"+b.RTMPAddr+"/live/own", testutil.PublishOptions{})
	require.Error(t, second.Wait(20*time.Second), "second ffmpeg publisher on b must fail")
	requireLive(t, a, "live/own", "a's stream after b refused a publisher")

	// Another path is free on b.
	require.NoError(t, tryPublish(t, b, "live/other"))
}

func TestClusterOwnerKilledPathMoves(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	r := testutil.StartRedis(t)
	a := startNode(t, r.URL(), "a")
	b := startNode(t, r.URL(), "b")
	testutil.PublishTestPattern(t, "rtmp://"+a.RTMPAddr+"/live/move", testutil.PublishOptions{})
	waitForStream(t, a, "live/move")
	require.Equal(t, "NetStream.Publish.BadName", statusCode(tryPublish(t, b, "live/move")))

	// kill -9: no release, the claim must expire.
	require.NoError(t, a.Cmd.Process.Kill())
	killed := time.Now()
	var accepted time.Duration
	for {
		err := tryPublish(t, b, "live/move")
		if err == nil {
			accepted = time.Since(killed)
			break
		}
		require.Equal(t, "NetStream.Publish.BadName", statusCode(err), "only busy while a's claim lives: %v", err)
		require.Less(t, time.Since(killed), clusterTTL+5*time.Second,
			"publisher on b not accepted within TTL + 5 s after a was killed")
		time.Sleep(100 * time.Millisecond) // an encoder's retry interval
	}
	t.Logf("ownership move after kill -9 (ttl %s): %s", clusterTTL, accepted.Round(10*time.Millisecond))
	require.Greater(t, accepted, clusterTTL/4, "taken over before a's claim could expire (was it claimed?)")

	// The retrying encoder now streams on b.
	testutil.PublishTestPattern(t, "rtmp://"+b.RTMPAddr+"/live/move", testutil.PublishOptions{})
	waitForStream(t, b, "live/move")
	requireLive(t, b, "live/move", "b after taking the path over")
}

func TestClusterRedisRestartUnderLoad(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	r := testutil.StartRedis(t)
	a := startNode(t, r.URL(), "a")
	b := startNode(t, r.URL(), "b")
	for i := range 3 {
		testutil.PublishTestPattern(t, fmt.Sprintf("rtmp://%s/live/load%d", a.RTMPAddr, i), testutil.PublishOptions{})
	}
	for i := range 3 {
		waitForStream(t, a, fmt.Sprintf("live/load%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, "http://"+a.HTTPAddr+"/live/load0.flv")
	require.NoError(t, err)
	readTagsFor(t, st, 500*time.Millisecond)

	r.Stop()
	// Redis down for more than a TTL: a's streams keep playing ...
	n, ts := readTagsFor(t, st, clusterTTL+time.Second)
	require.Greater(t, n, 100, "media tags while Redis was down")
	// ... and new claims fail closed: refused, not busy.
	err = tryPublish(t, b, "live/load1")
	require.Equal(t, "NetStream.Publish.Failed", statusCode(err), "Redis down: want a refused claim, got %v", err)
	require.Contains(t, err.Error(), "unavailable")

	r.Restart() // empty: every claim was lost
	// a re-makes its claims at its next refresh (every TTL/4). Probing b
	// before that could claim the path for b (a conflicting publisher in
	// that window wins, and a's publisher is stopped: one owner always).
	require.Eventually(t, func() bool { return len(a.Logs("claim re-made")) >= 3 },
		3*clusterTTL, 50*time.Millisecond, "a's claims were not re-made after Redis restarted")
	for i := range 3 {
		require.Equal(t, "NetStream.Publish.BadName", statusCode(tryPublish(t, b, fmt.Sprintf("live/load%d", i))),
			"live/load%d re-claimed by a", i)
	}
	n2, ts2 := readTagsFor(t, st, 2*time.Second)
	require.Greater(t, n2, 50, "media tags after Redis came back")
	require.Greater(t, ts2, ts, "the same viewer's timeline continues")
}

func TestClusterAPIAndMetrics(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	r := testutil.StartRedis(t)
	a := startNode(t, r.URL(), "a")
	b := startNode(t, r.URL(), "b")
	testutil.PublishTestPattern(t, "rtmp://"+a.RTMPAddr+"/live/api", testutil.PublishOptions{})
	waitForStream(t, a, "live/api")
	require.Equal(t, "NetStream.Publish.BadName", statusCode(tryPublish(t, b, "live/api")))

	var info struct {
		Enabled bool   `json:"enabled"`
		Node    string `json:"node"`
		Nodes   []struct {
			ID      string   `json:"id"`
			Alive   bool     `json:"alive"`
			Streams []string `json:"streams"`
		} `json:"nodes"`
	}
	require.Eventually(t, func() bool {
		getJSON(t, "http://"+b.HTTPAddr+"/api/v1/cluster", &info)
		return len(info.Nodes) == 2
	}, 10*time.Second, 100*time.Millisecond, "both nodes registered: %+v", info)
	require.True(t, info.Enabled)
	require.Equal(t, "b", info.Node)
	require.Equal(t, "a", info.Nodes[0].ID)
	require.True(t, info.Nodes[0].Alive)
	require.Equal(t, []string{"live/api"}, info.Nodes[0].Streams)
	require.Empty(t, info.Nodes[1].Streams)

	var list struct {
		Streams []struct {
			Path  string `json:"path"`
			Owner string `json:"owner"`
		} `json:"streams"`
	}
	getJSON(t, "http://"+a.HTTPAddr+"/api/v1/streams", &list)
	require.Len(t, list.Streams, 1)
	require.Equal(t, "a", list.Streams[0].Owner)

	var m string
	require.Eventually(t, func() bool { // counted at each heartbeat (TTL/4)
		m = getText(t, "http://"+a.HTTPAddr+"/metrics")
		return strings.Contains(m, "sluice_cluster_nodes 2")
	}, 2*clusterTTL, 100*time.Millisecond, "a's metrics never saw 2 nodes")
	require.Contains(t, m, "sluice_cluster_owned_streams 1")
	mb := getText(t, "http://"+b.HTTPAddr+"/metrics")
	require.Contains(t, mb, "sluice_cluster_claim_failures_total 1")
	require.Contains(t, mb, "sluice_cluster_owned_streams 0")
}
