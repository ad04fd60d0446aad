package cluster

import (
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

func newNode(t *testing.T, url, id string, ttl time.Duration) *Cluster {
	t.Helper()
	c, err := New(Options{Redis: url, NodeID: id, Advertise: id + ":1935", TTL: ttl, PullProtocol: "relay",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	c.Run()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var rtmpInfo = hub.ClientInfo{Protocol: "rtmp", Remote: "127.0.0.1:1"}

func TestClaimExclusiveAcrossNodes(t *testing.T) {
	r := testutil.StartRedis(t)
	a := newNode(t, r.URL(), "a", 2*time.Second)
	b := newNode(t, r.URL(), "b", 2*time.Second)

	release, err := a.Claim("live/x", rtmpInfo, nil)
	require.NoError(t, err)
	_, err = b.Claim("live/x", rtmpInfo, nil)
	require.True(t, errors.Is(err, hub.ErrBusy), "b claims a's path: want ErrBusy, got %v", err)
	_, err = a.Claim("live/x", rtmpInfo, nil)
	require.True(t, errors.Is(err, hub.ErrBusy), "a second local claim: want ErrBusy, got %v", err)

	o, ok, err := b.Owner("live/x")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, Owner{Node: "a", Advertise: "a:1935"}, o)

	// Refreshed while held: still a's after several TTLs.
	time.Sleep(5 * time.Second)
	_, err = b.Claim("live/x", rtmpInfo, nil)
	require.ErrorIs(t, err, hub.ErrBusy, "a's claim must be refreshed past its TTL")

	release()
	rb, err := b.Claim("live/x", rtmpInfo, nil)
	require.NoError(t, err, "released: b takes the path at once")
	rb()

	// An edge pull of a's path on b claims nothing; a pull of an unowned
	// path (a source b pulls itself) claims it.
	ra, err := a.Claim("live/y", rtmpInfo, nil)
	require.NoError(t, err)
	pull := hub.ClientInfo{Protocol: "relay", Remote: "rtmp://a/live/y"}
	rp, err := b.Claim("live/y", pull, nil)
	require.NoError(t, err, "an edge copy of a's stream")
	rp()
	o, _, err = b.Owner("live/y")
	require.NoError(t, err)
	require.Equal(t, "a", o.Node, "an edge pull must not claim or release")
	ra()
	rp, err = b.Claim("live/z", pull, nil)
	require.NoError(t, err)
	o, _, err = a.Owner("live/z")
	require.NoError(t, err)
	require.Equal(t, "b", o.Node, "a pull of an unowned path claims it")
	rp()

	view, err := a.View()
	require.NoError(t, err)
	require.Len(t, view, 2, "view: %+v", view)
	require.Equal(t, "a", view[0].ID)
	require.Equal(t, "b", view[1].ID)
	require.Equal(t, 2, a.Stats().Nodes)
}

func TestClaimExpiresWhenOwnerStops(t *testing.T) {
	r := testutil.StartRedis(t)
	// a never runs its refresh loop: it dies right after claiming.
	a, err := New(Options{Redis: r.URL(), NodeID: "a", TTL: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	b := newNode(t, r.URL(), "b", time.Second)
	_, err = a.Claim("live/x", rtmpInfo, nil)
	require.NoError(t, err)
	start := time.Now()
	for {
		rel, err := b.Claim("live/x", rtmpInfo, nil)
		if err == nil {
			rel()
			break
		}
		require.ErrorIs(t, err, hub.ErrBusy)
		require.Less(t, time.Since(start), 5*time.Second, "a's claim did not expire")
		time.Sleep(50 * time.Millisecond)
	}
	require.Greater(t, time.Since(start), 500*time.Millisecond, "taken over before a's claim could expire")
}

func TestRedisRestartKeepsAndRemakesClaims(t *testing.T) {
	r := testutil.StartRedis(t)
	a := newNode(t, r.URL(), "a", time.Second)
	var lost atomic.Bool
	_, err := a.Claim("live/x", rtmpInfo, func(string) { lost.Store(true) })
	require.NoError(t, err)

	r.Stop()
	_, err = a.Claim("live/new", rtmpInfo, nil)
	require.ErrorIs(t, err, ErrUnavailable, "Redis down: new claims fail closed")
	time.Sleep(1500 * time.Millisecond) // more than a TTL of failed refreshes
	require.False(t, lost.Load(), "Redis down must not drop a live claim")
	require.Equal(t, []string{"live/x"}, a.Owned())

	r.Restart()
	require.Eventually(t, func() bool {
		o, ok, err := a.Owner("live/x")
		return err == nil && ok && o.Node == "a"
	}, 5*time.Second, 50*time.Millisecond, "claim not re-made after Redis restarted")
	require.GreaterOrEqual(t, a.Stats().Remade, uint64(1))
	require.False(t, lost.Load())
}

func TestLostClaimTellsPublisher(t *testing.T) {
	r := testutil.StartRedis(t)
	a := newNode(t, r.URL(), "a", time.Second)
	b := newNode(t, r.URL(), "b", time.Second)
	lost := make(chan string, 1)
	_, err := a.Claim("live/x", rtmpInfo, func(reason string) { lost <- reason })
	require.NoError(t, err)
	// Simulate a partition: the key is overwritten with b's value.
	require.NoError(t, b.rdb.Set(t.Context(), streamKey("live/x"), b.value, time.Minute).Err())
	select {
	case reason := <-lost:
		require.Contains(t, reason, `"b"`)
	case <-time.After(3 * time.Second):
		t.Fatal("a was not told its claim was lost")
	}
	require.Empty(t, a.Owned())
}

func TestEdgeRefusesPublishers(t *testing.T) {
	r := testutil.StartRedis(t)
	c, err := New(Options{Redis: r.URL(), NodeID: "e", Role: RoleEdge, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Claim("live/x", rtmpInfo, nil)
	require.ErrorIs(t, err, ErrEdge)
}
