package rtmpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/amf0"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// groupedViewers returns how many viewers of srv are in fan-out groups.
func groupedViewers(srv *Server) int { return srv.groups.Viewers() }

// dialSmallWindow plays path over a connection with a tiny receive
// buffer, so that it stalls the server's writes soon after it stops
// reading.
func dialSmallWindow(t *testing.T, addr, path string) (net.Conn, *rtmp.Conn) {
	t.Helper()
	nc := testutil.DialSmallWindow(t, addr)
	require.NoError(t, rtmp.ClientHandshake(nc))
	wire := rtmp.NewConn(nc, rtmp.Limits{})
	for _, c := range []struct {
		cmd      rtmp.Command
		streamID uint32
	}{
		{rtmp.Command{Name: "connect", TransactionID: 1, Object: amf0.Object{{Key: "app", Value: "live"}}}, 0},
		{rtmp.Command{Name: "createStream", TransactionID: 2}, 0},
		{rtmp.Command{Name: "play", TransactionID: 3, Args: []any{path}}, mediaStreamID},
	} {
		m, err := c.cmd.Message(csidCommand, c.streamID)
		require.NoError(t, err)
		require.NoError(t, wire.WriteMessage(m))
	}
	return nc, wire
}

// stallWriteTimeout is the write timeout of the stalled-viewer test: a
// group that waited on its stalled member would stop its other members for
// that long, twice the gap they are allowed (1 s more than the publisher's
// own longest gap, as a reader of the hub sees it). Measured at load 5–10:
// healthy viewers' longest gap 97–221 ms, once 745 ms (over the old bound,
// 500 ms against a 1 s timeout, which left no room for both).
const stallWriteTimeout = 2 * time.Second

// TestStalledViewerLeavesGroupOthersUnaffected: viewers that keep up are
// written by fan-out groups; one that stops reading leaves its group, is
// dropped after the write timeout, and the others keep receiving every
// frame on time. When everyone has left, the groups are gone.
func TestStalledViewerLeavesGroupOthersUnaffected(t *testing.T) {
	testutil.CheckGoroutines(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Options{Logger: quiet, RepublishGrace: 100 * time.Millisecond})
	srv := &Server{Hub: h, Logger: quiet, WriteTimeout: stallWriteTimeout}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln, "rtmp") }()
	addr := ln.Addr().String()

	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{Size: "640x360", Bitrate: "3M"}))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pctx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan error, 1)
	go func() { pubDone <- (&replay.Publisher{URL: "rtmp://" + addr + "/live/x", Clip: clip}).Run(pctx) }()

	// Healthy viewers record the longest gap between video messages once
	// the stalled one has stopped reading.
	const healthy = 3
	var (
		gaps     testutil.GapWatch
		players  []*rtmp.Client
		wg       sync.WaitGroup
		gotVideo = make(chan struct{}, healthy)
	)
	for range healthy {
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
		players = append(players, player)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last time.Time
			first := true
			for {
				m, err := player.ReadMessage()
				if err != nil {
					return
				}
				if m.Type != rtmp.MsgVideo {
					continue
				}
				if first {
					first = false
					gotVideo <- struct{}{}
				}
				gaps.Frame(&last)
			}
		}()
	}
	for range healthy {
		<-gotVideo
	}

	// A reader of the hub itself, beside the server: the gaps it sees are
	// the publisher's (on a loaded machine it is late too), which no viewer
	// can do better than.
	var source testutil.GapWatch
	rd, err := h.Subscribe(ctx, "live/x", hub.ClientInfo{Protocol: "test"})
	require.NoError(t, err)
	sourceDone := make(chan struct{})
	go func() {
		defer close(sourceDone)
		var last time.Time
		var pkts []*av.Packet
		for {
			var err error
			if pkts, err = rd.Read(ctx, pkts[:0]); err != nil {
				return
			}
			for _, p := range pkts {
				if p.Kind() == av.KindVideo {
					source.Frame(&last)
				}
			}
		}
	}()
	defer func() { rd.Close(); <-sourceDone }()

	// The stalled viewer reads for a while (it joins a group), then stops.
	nc, wire := dialSmallWindow(t, addr, "x")
	readUntil := time.Now().Add(2 * time.Second)
	for time.Now().Before(readUntil) {
		_, err := wire.ReadMessage()
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return groupedViewers(srv) == healthy+1 },
		10*time.Second, 20*time.Millisecond, "every viewer that keeps up is written by a group")
	stallAt := gaps.Start()
	source.Start()

	// Once the socket buffers are full it leaves its group, and it is
	// dropped after the write timeout.
	require.Eventually(t, func() bool { return groupedViewers(srv) == healthy },
		30*time.Second, 20*time.Millisecond, "the stalled viewer leaves its group")
	t.Logf("the stalled viewer left its group after %v", time.Since(stallAt).Round(time.Millisecond))
	time.Sleep(stallWriteTimeout + 2*time.Second) // dropped by then: a read now must not revive it
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.Copy(io.Discard, nc)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the stalled viewer's connection must be closed by the server")

	gap, sourceGap := gaps.Max(), source.Max()
	t.Logf("longest gap between video frames of healthy viewers: %v (in the hub: %v)", gap, sourceGap)
	require.Less(t, gap, sourceGap+stallWriteTimeout/2,
		"healthy viewers keep the publisher's pace (a group waiting on the stalled viewer would stop for %v)", stallWriteTimeout)
	require.Equal(t, healthy, groupedViewers(srv))

	for _, p := range players {
		p.Close()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return groupedViewers(srv) == 0 }, 5*time.Second, 20*time.Millisecond)
	stopPub()
	<-pubDone
	h.Close()
	require.NoError(t, srv.Close())
	<-served
	require.Eventually(t, func() bool { return srv.groups.Len() == 0 }, 5*time.Second, 20*time.Millisecond, "groups end with their last member")
}
