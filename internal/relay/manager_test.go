package relay

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var video = &av.Track{Codec: av.CodecH264, Config: []byte{1}}

// fakePuller publishes a keyframe every 40 ms (media time 40 ms apart)
// until ctx ends, or fails after failAfter packets when set.
type fakePuller struct {
	pulls     atomic.Int32
	failAfter atomic.Int32 // 0: never
	refuse    atomic.Bool  // fail at once, before any media
}

func (f *fakePuller) Pull(ctx context.Context, src *url.URL, pub *hub.Publisher, stats *Stats, log *slog.Logger) error {
	f.pulls.Add(1)
	if f.refuse.Load() {
		return errors.New("connection refused")
	}
	pub.Announce(true, false)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for i := int32(0); ; i++ {
		if n := f.failAfter.Load(); n > 0 && i >= n {
			return errors.New("source went away")
		}
		if err := pub.WritePacket(&av.Packet{Track: video, DTS: time.Duration(i) * 40 * time.Millisecond,
			PTS: time.Duration(i) * 40 * time.Millisecond, Key: true, Data: []byte{0, 0, 0, 1, 0x65}}); err != nil {
			return err
		}
		stats.Connected()
		stats.Bytes.Add(5)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func newTestManager(t *testing.T, h *hub.Hub, p Puller, src Source) *Manager {
	t.Helper()
	reg := &Registry{}
	reg.RegisterPuller(p, "fake")
	m := New(Options{Hub: h, Registry: reg, Logger: quiet, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		SourceFor: func(path string) (Source, bool) { return src, path == src.Path }})
	t.Cleanup(m.Close)
	return m
}

func TestOnDemandPullStartsWithDemandAndStopsWhenIdle(t *testing.T) {
	var m *Manager
	h := hub.New(hub.Options{Logger: quiet, Demand: func(ctx context.Context, path string) error { return m.Demand(ctx, path) }})
	defer h.Close()
	fp := &fakePuller{}
	u, _ := url.Parse("fake://src/live/a")
	m = newTestManager(t, h, fp, Source{Path: "pull/a", URL: u, OnDemand: true, CloseAfter: 200 * time.Millisecond})
	require.NoError(t, m.Start())
	require.Zero(t, fp.pulls.Load(), "on demand: nothing pulled before a viewer")
	require.ErrorIs(t, h.Demand(context.Background(), "other/path"), ErrNoSource)

	require.NoError(t, h.Demand(context.Background(), "pull/a"))
	st := h.Stream("pull/a")
	require.NotNil(t, st, "Demand returns once the stream has media")
	v, _ := st.Tracks()
	require.NotNil(t, v)
	rd, err := h.Subscribe(context.Background(), "pull/a", hub.ClientInfo{Protocol: "http-flv"})
	require.NoError(t, err)
	// An ignored reader (audio bridge) does not keep it alive; a viewer does.
	bridge, err := h.Subscribe(context.Background(), "pull/a", hub.ClientInfo{Protocol: "audio-bridge"})
	require.NoError(t, err)
	defer bridge.Close()
	time.Sleep(500 * time.Millisecond) // longer than CloseAfter: the viewer holds it
	require.Len(t, m.Pulls(), 1)
	require.Equal(t, StateLive, m.Pulls()[0].State)
	rd.Close()
	require.Eventually(t, func() bool { return len(m.Pulls()) == 0 }, 3*time.Second, 10*time.Millisecond,
		"the pull stops CloseAfter after its last viewer")
	require.EqualValues(t, 1, fp.pulls.Load())

	// The next viewer starts it again, on the same stream (grace period).
	require.NoError(t, h.Demand(context.Background(), "pull/a"))
	require.Same(t, st, h.Stream("pull/a"), "rejoined within the republish grace: one timeline")
	require.EqualValues(t, 2, fp.pulls.Load())
}

func TestPullReconnectsWithBackoffOnOneTimeline(t *testing.T) {
	h := hub.New(hub.Options{Logger: quiet})
	defer h.Close()
	fp := &fakePuller{}
	fp.failAfter.Store(5)
	u, _ := url.Parse("fake://src/live/a")
	m := newTestManager(t, h, fp, Source{Path: "pull/b", URL: u})
	m.opts.Sources = []Source{{Path: "pull/b", URL: u}}
	require.NoError(t, m.Start())
	require.Eventually(t, func() bool { return h.Stream("pull/b") != nil }, 2*time.Second, 5*time.Millisecond)
	st := h.Stream("pull/b")
	require.Eventually(t, func() bool { return fp.pulls.Load() >= 3 }, 5*time.Second, 5*time.Millisecond, "reconnects")
	require.Same(t, st, h.Stream("pull/b"), "reconnects continue the stream")
	require.GreaterOrEqual(t, st.Stats().Republishes, uint64(2))
	ps := m.Pulls()
	require.Len(t, ps, 1)
	require.Equal(t, "source went away", ps[0].LastError)
	require.Positive(t, m.Totals().PullReconnects)
}

func TestDemandFailsFastWhenTheSourceRefuses(t *testing.T) {
	h := hub.New(hub.Options{Logger: quiet})
	defer h.Close()
	fp := &fakePuller{}
	fp.refuse.Store(true)
	u, _ := url.Parse("fake://src/live/a")
	m := newTestManager(t, h, fp, Source{Path: "pull/c", URL: u, OnDemand: true, StartTimeout: 5 * time.Second})
	start := time.Now()
	err := m.Demand(context.Background(), "pull/c")
	require.ErrorContains(t, err, "connection refused")
	require.Less(t, time.Since(start), 2*time.Second, "a refused first attempt answers at once, not after StartTimeout")
}

func TestLocateIsAskedForPathsWithoutSource(t *testing.T) {
	h := hub.New(hub.Options{Logger: quiet})
	defer h.Close()
	fp := &fakePuller{}
	reg := &Registry{}
	reg.RegisterPuller(fp, "fake")
	m := New(Options{Hub: h, Registry: reg, Logger: quiet, Locate: func(ctx context.Context, path string) (*url.URL, bool) {
		u, _ := url.Parse("fake://owner/" + path)
		return u, path == "edge/x"
	}})
	defer m.Close()
	require.NoError(t, m.Demand(context.Background(), "edge/x"))
	require.True(t, m.Pulls()[0].OnDemand)
	require.ErrorIs(t, m.Demand(context.Background(), "edge/y"), ErrNoSource)
}

func TestRedactAndExpand(t *testing.T) {
	u, err := Expand("rtmps://user:pw@a.rtmp.youtube.com/live2/{name}?key=s3cret", "live/abcd-efgh-ijkl-mnop-qrst")
	require.NoError(t, err)
	require.Equal(t, "/live2/abcd-efgh-ijkl-mnop-qrst", u.Path)
	require.Equal(t, "rtmps://REDACTED@a.rtmp.youtube.com/live2/abcd-REDACTED?key=REDACTED", Redact(u))
	u, _ = Expand("rtmp://h/{app}/{name}_{path}", "live/cam")
	require.Equal(t, "rtmp://h/live/cam_live/cam", u.String())
	require.Equal(t, "rtmp://h/live/cam_live/cam", Redact(u))
	a, _ := url.Parse("rtmp://H:1935/live/x?key=1")
	b, _ := url.Parse("rtmp://h:1935/live/x/")
	require.True(t, sameTarget(a, b))
	c, _ := url.Parse("rtmp://h:1935/live/y")
	require.False(t, sameTarget(a, c))
}

func TestBackoffDoublesAndResets(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	var got []time.Duration
	for range 6 {
		got = append(got, b.after(false))
	}
	require.Equal(t, []time.Duration{100e6, 200e6, 400e6, 800e6, 1e9, 1e9}, got)
	require.Equal(t, 100*time.Millisecond, b.after(true), "an attempt that established starts over")
}

// hostPuller records the hosts it pulled from and fails every pull from
// a host in dead at once.
type hostPuller struct {
	fakePuller
	mu    sync.Mutex
	hosts []string
	dead  map[string]bool
}

func (h *hostPuller) Pull(ctx context.Context, src *url.URL, pub *hub.Publisher, stats *Stats, log *slog.Logger) error {
	h.mu.Lock()
	h.hosts = append(h.hosts, src.Host)
	dead := h.dead[src.Host]
	h.mu.Unlock()
	if dead {
		return errors.New("connection refused")
	}
	return h.fakePuller.Pull(ctx, src, pub, stats, log)
}

func (h *hostPuller) pulledFrom() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hosts...)
}

// TestLocatedPullFollowsTheOwner: a cluster edge's pull whose owner node
// dies asks Locate again on each retry and moves to the new owner, on the
// same hub stream (its viewer keeps reading), while a configured source
// keeps its URL.
func TestLocatedPullFollowsTheOwner(t *testing.T) {
	h := hub.New(hub.Options{Logger: quiet, RepublishGrace: 5 * time.Second})
	defer h.Close()
	hp := &hostPuller{dead: map[string]bool{}}
	hp.failAfter.Store(20) // node a's stream ends after 20 frames
	var owner atomic.Value
	owner.Store("a")
	reg := &Registry{}
	reg.RegisterPuller(hp, "fake")
	m := New(Options{Hub: h, Registry: reg, Logger: quiet, MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Locate: func(ctx context.Context, path string) (*url.URL, bool) {
			return &url.URL{Scheme: "fake", Host: owner.Load().(string), Path: "/" + path}, true
		}})
	defer m.Close()
	require.NoError(t, m.Demand(context.Background(), "edge/x"))
	rd, err := h.Subscribe(context.Background(), "edge/x", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	defer rd.Close()

	// Node a dies: its pulls are refused until the path moves to b.
	hp.mu.Lock()
	hp.dead["a"] = true
	hp.mu.Unlock()
	require.Eventually(t, func() bool { return m.Pulls()[0].Reconnects >= 2 }, 5*time.Second, 5*time.Millisecond)
	owner.Store("b")
	hp.failAfter.Store(0)
	require.Eventually(t, func() bool {
		st := m.Pulls()
		return len(st) == 1 && st[0].State == StateLive && strings.Contains(st[0].URL, "//b/")
	}, 5*time.Second, 5*time.Millisecond, "the pull never moved to the new owner")
	hosts := hp.pulledFrom()
	require.Equal(t, "a", hosts[0])
	require.Equal(t, "b", hosts[len(hosts)-1])

	// The viewer that was reading from a reads b's media on the same stream.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := 0
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		pkts, err := rd.Read(ctx, nil)
		require.NoError(t, err, "the edge viewer was dropped while the pull moved")
		got += len(pkts)
	}
	require.Positive(t, got, "the edge viewer reads the new owner's media")
}

// TestConfiguredSourceIsNotRelocated: Locate is never asked again for a
// configured source that fails.
func TestConfiguredSourceIsNotRelocated(t *testing.T) {
	h := hub.New(hub.Options{Logger: quiet})
	defer h.Close()
	fp := &fakePuller{}
	fp.refuse.Store(true)
	var located atomic.Int32
	src := Source{Path: "pull/c", URL: &url.URL{Scheme: "fake", Host: "origin"}}
	reg := &Registry{}
	reg.RegisterPuller(fp, "fake")
	m := New(Options{Hub: h, Registry: reg, Logger: quiet, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Sources:   []Source{src},
		SourceFor: func(path string) (Source, bool) { return src, path == src.Path },
		Locate: func(ctx context.Context, path string) (*url.URL, bool) {
			located.Add(1)
			return &url.URL{Scheme: "fake", Host: "elsewhere"}, true
		}})
	defer m.Close()
	m.Start()
	require.Eventually(t, func() bool { return fp.pulls.Load() >= 4 }, 5*time.Second, 5*time.Millisecond)
	require.Zero(t, located.Load())
	require.Contains(t, m.Pulls()[0].URL, "//origin")
}
