package relay

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
)

// fakePusher reads the stream; it fails after failAfter reads when set.
type fakePusher struct {
	pushes    atomic.Int32
	packets   atomic.Int32
	failAfter int32
}

func (f *fakePusher) Push(ctx context.Context, dst *url.URL, rd *hub.Reader, stats *Stats, log *slog.Logger) error {
	f.pushes.Add(1)
	for i := int32(0); ; i++ {
		if f.failAfter > 0 && i >= f.failAfter {
			return errors.New("target closed")
		}
		pkts, err := rd.Read(ctx, nil)
		if err != nil {
			return err
		}
		f.packets.Add(int32(len(pkts)))
		stats.Connected()
		stats.Bytes.Add(uint64(len(pkts)))
	}
}

func TestForwardReconnectsAndEndsWithTheStream(t *testing.T) {
	h := hub.New(hub.Options{Logger: quiet, RepublishGrace: 50 * time.Millisecond})
	defer h.Close()
	good, bad := &fakePusher{}, &fakePusher{failAfter: 2}
	reg := &Registry{}
	reg.RegisterPusher(good, "good")
	reg.RegisterPusher(bad, "bad")
	gu, _ := url.Parse("good://a/live/x")
	bu, _ := url.Parse("bad://b/live/x")
	m := New(Options{Hub: h, Registry: reg, Logger: quiet, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		ForwardsFor: func(path string) []*url.URL { return []*url.URL{gu, bu} }})
	defer m.Close()
	pub, err := h.Publish("live/x", hub.ClientInfo{Protocol: "rtmp"})
	require.NoError(t, err)
	pub.Announce(true, false)
	m.AddForwards("live/x", []string{"good://c/{path}", "://bad url"})
	m.StreamStarted("live/x")
	require.Len(t, m.Forwards(), 3, "config targets and the hook's valid one")
	for i := 0; i < 50; i++ {
		require.NoError(t, pub.WritePacket(&av.Packet{Track: video, DTS: time.Duration(i) * 40 * time.Millisecond, PTS: time.Duration(i) * 40 * time.Millisecond, Key: true, Data: []byte{1}}))
		time.Sleep(2 * time.Millisecond)
	}
	require.Eventually(t, func() bool { return bad.pushes.Load() >= 3 }, 5*time.Second, 5*time.Millisecond, "a failing target is retried")
	require.EqualValues(t, 2, good.pushes.Load(), "the good targets never fail")
	var badStatus ForwardStatus
	for _, f := range m.Forwards() {
		if f.URL == "bad://b/live/x" {
			badStatus = f
		}
	}
	require.Positive(t, badStatus.Errors)
	require.Equal(t, "target closed", badStatus.LastError)
	pub.Kick("test over")
	require.Eventually(t, func() bool { return len(m.Forwards()) == 0 }, 5*time.Second, 5*time.Millisecond, "forwards end with the stream")
	require.Positive(t, m.Totals().ForwardBytes)
}

func TestForwardLoopGuard(t *testing.T) {
	h := hub.New(hub.Options{Logger: quiet})
	defer h.Close()
	fp, pu := &fakePuller{}, &fakePusher{}
	reg := &Registry{}
	reg.RegisterPuller(fp, "fake")
	reg.RegisterPusher(pu, "fake")
	src, _ := url.Parse("fake://origin/live/a")
	m := New(Options{Hub: h, Registry: reg, Logger: quiet, Sources: []Source{{Path: "pull/a", URL: src}},
		ForwardsFor: func(path string) []*url.URL {
			same, _ := url.Parse("fake://ORIGIN/live/a?key=x")
			other, _ := url.Parse("fake://elsewhere/live/a")
			return []*url.URL{same, other}
		}})
	defer m.Close()
	require.NoError(t, m.Start())
	require.Eventually(t, func() bool { return h.Stream("pull/a") != nil }, 2*time.Second, 5*time.Millisecond)
	m.StreamStarted("pull/a")
	fs := m.Forwards()
	require.Len(t, fs, 1, "the source's own URL is never a forward target")
	require.Equal(t, "fake://elsewhere/live/a", fs[0].URL)
}
