package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

const clusterSecret = "e2e-cluster-secret-0123456789"

// startOrigin runs a cluster node whose RTMP address is known before it
// starts, so it can advertise it to the other nodes.
func startOrigin(t *testing.T, redisURL, id string, env ...string) *testutil.Sluice {
	t.Helper()
	addr := testutil.FreePort(t)
	return startNode(t, redisURL, id, append([]string{"SLUICE_RTMP_LISTEN=" + addr,
		"SLUICE_CLUSTER_ADVERTISE=" + addr, "SLUICE_CLUSTER_SECRET=" + clusterSecret}, env...)...)
}

// arrivals records when each video tag (by payload digest) arrived.
type arrivals struct {
	mu sync.Mutex
	at map[[32]byte]time.Time
}

func (a *arrivals) watch(t *testing.T, st *flvTagStream, until time.Time) {
	for time.Now().Before(until) {
		tag, err := st.r.ReadTag()
		if err != nil {
			return
		}
		if tag.Type != flv.TagVideo {
			continue
		}
		now := time.Now()
		a.mu.Lock()
		a.at[sha256.Sum256(tag.Body)] = now
		a.mu.Unlock()
	}
}

func TestClusterEdgePullsOnceFromOwner(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	r := testutil.StartRedis(t)
	a := startOrigin(t, r.URL(), "a")
	b := startNode(t, r.URL(), "b", "SLUICE_CLUSTER_SECRET="+clusterSecret, "SLUICE_CLUSTER_ROLE=edge")
	testutil.PublishTestPattern(t, "rtmp://"+a.RTMPAddr+"/live/edge", testutil.PublishOptions{Pattern: testutil.Pattern{GOP: 25}})
	waitForStream(t, a, "live/edge")

	// Cold edge: the first viewer's request starts the pull.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	first, err := openHTTPFLV(t, ctx, "http://"+b.HTTPAddr+"/live/edge.flv")
	require.NoError(t, err, "HTTP-FLV from the edge")
	for {
		tag, err := first.r.ReadTag()
		require.NoError(t, err)
		if tag.Type == flv.TagVideo && len(tag.Body) > 1 && tag.Body[1] == 1 { // a coded frame, not the sequence header
			break
		}
	}
	t.Logf("time to first frame on a cold edge (HTTP-FLV): %s", time.Since(start).Round(time.Millisecond))

	// More viewers on b, of several protocols (HTTP-FLV, HLS, DASH, WHEP),
	// share the one pull.
	more := make([]*flvTagStream, 3)
	for i := range more {
		more[i], err = openHTTPFLV(t, ctx, "http://"+b.HTTPAddr+"/live/edge.flv")
		require.NoError(t, err)
	}
	res, err := testutil.Decode(t, "http://"+b.HTTPAddr+"/live/edge.m3u8", 3*time.Second)
	require.NoError(t, err, "HLS from the edge")
	require.Greater(t, res.VideoFrames, 50, "HLS frames decoded from the edge (errors %v)", res.Errors)
	res, err = testutil.Decode(t, "http://"+b.HTTPAddr+"/live/edge.flv", 2*time.Second)
	require.NoError(t, err)
	require.Greater(t, res.VideoFrames, 30, "ffmpeg HTTP-FLV frames from the edge")
	res, err = testutil.Decode(t, "http://"+b.HTTPAddr+"/live/edge.mpd", 3*time.Second)
	require.NoError(t, err, "DASH from the edge")
	require.Greater(t, res.VideoFrames, 50, "DASH frames decoded from the edge (errors %v)", res.Errors)
	// A pion WHEP viewer on the edge receives video.
	whep := playWHEP(t, b.HTTPAddr, "live/edge")
	whep.waitFrames(t, 25, 15*time.Second)

	var st struct {
		Viewers struct {
			Total      int            `json:"total"`
			ByProtocol map[string]int `json:"by_protocol"`
		} `json:"viewers"`
		Owner string `json:"owner"`
	}
	getJSON(t, "http://"+a.HTTPAddr+"/api/v1/streams/live/edge", &st)
	require.Equal(t, 1, st.Viewers.Total, "a serves b once, whatever b's viewers: %+v", st.Viewers)
	require.Equal(t, 1, st.Viewers.ByProtocol["rtmp"], "the pull is one RTMP play: %+v", st.Viewers)
	getJSON(t, "http://"+b.HTTPAddr+"/api/v1/streams/live/edge", &st)
	require.GreaterOrEqual(t, st.Viewers.Total, 5, "b's own viewers (4 HTTP-FLV, 1 WHEP): %+v", st.Viewers)
	require.Equal(t, "a", st.Owner, "b's copy names its owner")
	require.Contains(t, getText(t, "http://"+b.HTTPAddr+"/metrics"), "sluice_cluster_edge_pulls 1")

	// The edge refuses publishers.
	err = tryPublish(t, b, "live/elsewhere")
	require.Equal(t, "NetStream.Publish.Failed", statusCode(err), "an edge node takes no publisher: %v", err)

	// One edge hop's added latency: the same frames seen on a and on b.
	onA, err := openHTTPFLV(t, ctx, "http://"+a.HTTPAddr+"/live/edge.flv")
	require.NoError(t, err)
	fromA, fromB := &arrivals{at: map[[32]byte]time.Time{}}, &arrivals{at: map[[32]byte]time.Time{}}
	until := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); fromA.watch(t, onA, until) }()
	go func() { defer wg.Done(); fromB.watch(t, more[0], until) }()
	wg.Wait()
	var delays []time.Duration
	for h, ta := range fromA.at {
		if tb, ok := fromB.at[h]; ok {
			delays = append(delays, tb.Sub(ta))
		}
	}
	require.Greater(t, len(delays), 50, "frames seen on both nodes")
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	p50, p99 := delays[len(delays)/2], delays[len(delays)*99/100]
	t.Logf("one edge hop adds (HTTP-FLV on b vs on a, %d frames): p50 %s, p99 %s", len(delays), p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond))
	require.Less(t, p50, 500*time.Millisecond, "an edge hop must not add a segment of delay")
}

func TestClusterInternalPullWrongSecretRefused(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	r := testutil.StartRedis(t)
	a := startOrigin(t, r.URL(), "a")
	testutil.PublishTestPattern(t, "rtmp://"+a.RTMPAddr+"/live/secret", testutil.PublishOptions{})
	waitForStream(t, a, "live/secret")
	play := func(token string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := rtmp.Dial(ctx, "rtmp://"+a.RTMPAddr+"/live/secret?"+url.Values{"cluster_token": {token}}.Encode(), nil)
		require.NoError(t, err)
		defer c.Close()
		return c.Play(ctx)
	}
	err := play("not-the-cluster-secret-at-all")
	var se *rtmp.StatusError
	require.True(t, errors.As(err, &se), "a wrong cluster secret must be refused, got %v", err)
	require.Contains(t, se.Description, "wrong cluster secret")
	require.NoError(t, play(clusterSecret), "the right secret plays")
}
