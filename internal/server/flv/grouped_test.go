package flvserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// publishRealTime writes clip into the hub at path in real time, looping,
// until ctx ends.
func publishRealTime(ctx context.Context, h *hub.Hub, path string, clip *replay.Clip) error {
	pub, err := h.Publish(path, hub.ClientInfo{Protocol: "test"})
	if err != nil {
		return err
	}
	defer pub.Close("done")
	var d flv.Demuxer
	write := func(typ uint8, ts uint32, body []byte) error {
		switch typ {
		case flv.TagVideo:
			p, err := d.Video(int64(ts), body)
			if err != nil || p == nil {
				return err
			}
			return pub.WritePacket(p)
		case flv.TagAudio:
			p, err := d.Audio(int64(ts), body)
			if err != nil || p == nil {
				return err
			}
			return pub.WritePacket(p)
		}
		return nil
	}
	for _, tag := range clip.Config {
		if err := write(tag.Type, 0, tag.Body); err != nil {
			return err
		}
	}
	announced := false
	start := time.Now()
	for loop := 0; ; loop++ {
		base := time.Duration(loop) * clip.Duration
		for _, tag := range clip.Media {
			at := base + time.Duration(tag.Timestamp)*time.Millisecond
			if d := time.Until(start.Add(at)); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return nil
				}
			}
			if err := write(tag.Type, uint32(at/time.Millisecond), tag.Body); err != nil {
				return err
			}
			if !announced {
				announced = true
				pub.Announce(true, true)
			}
		}
	}
}

// dialSmallWindow requests path over a connection with a tiny receive
// buffer, so that it stalls the server's writes soon after it stops
// reading.
func dialSmallWindow(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	nc := testutil.DialSmallWindow(t, addr)
	_, err := io.WriteString(nc, "GET "+path+" HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
	require.NoError(t, err)
	return nc
}

// stallWriteTimeout is the write timeout of the stalled-viewer test: a
// group that waited on its stalled member would stop its other members for
// that long, twice the gap they are allowed (1 s more than the publisher's
// own longest gap, as a reader of the hub sees it). Measured at load 5–10:
// healthy viewers' longest gap 97–221 ms, once 745 ms (over the old bound,
// 500 ms against a 1 s timeout, which left no room for both).
const stallWriteTimeout = 2 * time.Second

// TestStalledViewerLeavesGroupOthersUnaffected: HTTP/1.1 viewers that keep
// up are written by fan-out groups; one that stops reading leaves its
// group, is dropped, and the others keep receiving every frame on time.
// When everyone has left, the groups are gone.
func TestStalledViewerLeavesGroupOthersUnaffected(t *testing.T) {
	testutil.CheckGoroutines(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := hub.New(hub.Options{Logger: quiet})
	srv := &Server{Hub: h, Logger: quiet, WriteTimeout: stallWriteTimeout}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeStream(w, r, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".flv"), auth.Grant{})
	}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")

	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{Size: "640x360", Bitrate: "3M"}))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pctx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan error, 1)
	go func() { pubDone <- publishRealTime(pctx, h, "live/x", clip) }()

	// Healthy viewers record the longest gap between video tags once the
	// stalled one has stopped reading.
	const healthy = 3
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	var (
		gaps     testutil.GapWatch
		bodies   []io.Closer
		wg       sync.WaitGroup
		gotVideo = make(chan struct{}, healthy)
	)
	for range healthy {
		var resp *http.Response
		require.Eventually(t, func() bool {
			r, err := client.Get(ts.URL + "/live/x.flv")
			if err != nil {
				return false
			}
			if r.StatusCode != http.StatusOK {
				r.Body.Close()
				return false
			}
			resp = r
			return true
		}, 10*time.Second, 50*time.Millisecond)
		bodies = append(bodies, resp.Body)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fr := flv.NewReader(resp.Body, 0)
			if _, _, err := fr.ReadHeader(); err != nil {
				return
			}
			var last time.Time
			first := true
			for {
				tag, err := fr.ReadTag()
				if err != nil {
					return
				}
				if tag.Type != flv.TagVideo {
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
	nc := dialSmallWindow(t, addr, "/live/x.flv")
	buf := make([]byte, 32<<10)
	readUntil := time.Now().Add(2 * time.Second)
	for time.Now().Before(readUntil) {
		_, err := nc.Read(buf)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return srv.groups.Viewers() == healthy+1 },
		10*time.Second, 20*time.Millisecond, "every viewer that keeps up is written by a group")
	stallAt := gaps.Start()
	source.Start()

	// Once the socket buffers are full it leaves its group, and it is
	// dropped (write timeout or the hub's lag rules).
	require.Eventually(t, func() bool { return srv.groups.Viewers() == healthy },
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
	require.Equal(t, healthy, srv.groups.Viewers())

	for _, b := range bodies {
		b.Close()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return srv.groups.Viewers() == 0 }, 5*time.Second, 20*time.Millisecond)
	stopPub()
	require.NoError(t, <-pubDone)
	h.Close()
	require.Eventually(t, func() bool { return srv.groups.Len() == 0 }, 5*time.Second, 20*time.Millisecond,
		"groups end with their last member")
}
