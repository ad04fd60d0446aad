package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// blackHole accepts TCP connections and never reads from them.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// stallProxy relays connections to target until a client has sent after
// bytes, then stops reading from that client (the connection stays open):
// a target that accepted the stream and then stopped reading.
func stallProxy(t *testing.T, target string, after int64) (addr string, stalls *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stalls = &atomic.Int64{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// A small receive buffer: the sender's writes block soon
			// after the proxy stops reading.
			_ = c.(*net.TCPConn).SetReadBuffer(16 << 10)
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(c, up) }()
			go func() {
				defer wg.Done()
				_, _ = io.CopyN(up, c, after)
				stalls.Add(1)
				<-done // stop reading; keep the connection open
				c.Close()
				up.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); close(done); wg.Wait() })
	return ln.Addr().String(), stalls
}

// rtmpPace plays url with our RTMP client for d and returns how far the
// video timestamps advanced; it fails the test if play fails.
func rtmpPace(t *testing.T, url string, d time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, url, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Play(ctx))
	var first, last uint32
	seen := false
	end := time.Now().Add(d)
	require.NoError(t, c.SetDeadline(end.Add(5*time.Second)))
	for time.Now().Before(end) {
		m, err := c.ReadMessage()
		require.NoError(t, err, "playing %s", url)
		if m.Type != rtmp.MsgVideo {
			continue
		}
		if !seen {
			first, seen = m.Timestamp, true
		}
		last = m.Timestamp
	}
	return time.Duration(last-first) * time.Millisecond
}

// waitRTMPVideo waits until url plays video on the RTMP server and
// returns how long it took.
func waitRTMPVideo(t *testing.T, url string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := rtmp.Dial(ctx, url, nil)
		if err == nil {
			if err = c.Play(ctx); err == nil {
				_ = c.SetDeadline(time.Now().Add(3 * time.Second))
				for {
					m, rerr := c.ReadMessage()
					if rerr != nil {
						break
					}
					if m.Type == rtmp.MsgVideo {
						c.Close()
						cancel()
						return time.Since(start)
					}
				}
			}
			c.Close()
		}
		cancel()
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s has no video within %s", url, within)
	return 0
}

// TestRelayForwardToNginxRTMP: a stream published to Sluice is forwarded
// to nginx-rtmp, where ffmpeg decodes it; a target that accepts TCP and
// never reads, and one that stops reading mid-stream, slow neither the
// publisher, the good target nor an HTTP-FLV viewer; nginx restarting is
// survived: the forward reconnects by itself within 20 s.
func TestRelayForwardToNginxRTMP(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	ng := testutil.StartNginxRTMP(t)
	hole := blackHole(t)
	stall, stalls := stallProxy(t, ng.Addr, 256<<10)
	cfg := writeConfig(t, fmt.Sprintf(`paths:
  "live/*":
    forward:
      - rtmp://%s/live/{name}
      - rtmp://%s/live/{name}
      - rtmp://%s/live/{name}_stalled?key=secret
`, ng.Addr, hole, stall))
	s := testutil.StartSluice(t, nil, "-config", cfg)
	// 2.5 Mbit/s, so that the stalled target's socket buffers fill (and
	// its write deadline fires) within the test.
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/fwd", testutil.PublishOptions{Pattern: testutil.Pattern{Bitrate: "2500k"}})
	waitForStream(t, s, "live/fwd")

	target := "rtmp://" + ng.Addr + "/live/fwd"
	took := waitRTMPVideo(t, target, 20*time.Second)
	t.Logf("forward live on nginx %s after the stream was playable on Sluice", took.Round(10*time.Millisecond))
	// nginx-rtmp has no GOP cache: ffmpeg waits up to a GOP (2 s) for a
	// keyframe inside its 4 s.
	res, err := testutil.Decode(t, target, 4*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 40, "ffmpeg decoded %d frames of the forwarded stream on nginx; errors: %v", res.VideoFrames, res.Errors)

	// The bad targets have hit their write deadline or are stuck in
	// their handshake by now; the good target and an HTTP-FLV viewer
	// keep real-time pace meanwhile.
	require.Eventually(t, func() bool { return stalls.Load() >= 1 }, 15*time.Second, 50*time.Millisecond, "the stalling target got its first 256 KiB")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/fwd.flv")
	require.NoError(t, err)
	w := watchTags(st)
	const window = 8 * time.Second
	start := time.Now()
	pace := rtmpPace(t, target, window)
	wall := time.Since(start)
	require.GreaterOrEqual(t, pace, wall*8/10-time.Second,
		"the good target must keep real-time pace beside a dead and a stalled one: %s of media in %s", pace, wall)
	flvTags := w.tags.Load()
	require.GreaterOrEqual(t, flvTags, int64(wall.Seconds()*25*0.8), "the HTTP-FLV viewer got %d tags in %s", flvTags, wall)
	cancel()

	var list struct {
		Streams []struct {
			Path     string `json:"path"`
			Forwards []struct {
				URL        string `json:"url"`
				State      string `json:"state"`
				Bytes      uint64 `json:"bytes"`
				Errors     uint64 `json:"errors"`
				Reconnects uint64 `json:"reconnects"`
			} `json:"forwards"`
		} `json:"streams"`
	}
	require.Eventually(t, func() bool {
		getJSON(t, "http://"+s.HTTPAddr+"/api/v1/streams", &list)
		bad := 0
		for _, st := range list.Streams {
			for _, f := range st.Forwards {
				require.NotContains(t, f.URL, "secret", "forward URLs are shown redacted")
				if f.Errors > 0 && !strings.Contains(f.URL, ng.Addr) {
					bad++
				}
			}
		}
		return bad == 2
	}, 30*time.Second, 200*time.Millisecond, "both bad targets report errors")
	t.Logf("forward targets: %+v", list.Streams)
	for _, st := range list.Streams {
		for _, f := range st.Forwards {
			if strings.Contains(f.URL, ng.Addr) {
				require.Equal(t, "live", f.State, "good target: %+v", f)
				require.Positive(t, f.Bytes)
			}
		}
	}
	metrics := getText(t, "http://"+s.HTTPAddr+"/metrics")
	require.Contains(t, metrics, `sluice_forward_targets{state="live"} 1`)
	require.Contains(t, metrics, "sluice_forward_reconnects_total")

	// nginx restarts: the forward reconnects by itself.
	ng.Restart(t)
	again := waitRTMPVideo(t, target, 20*time.Second)
	t.Logf("forward reconnected: video on the restarted nginx %s after it started again", again.Round(10*time.Millisecond))
	waitLog(t, s, "forward failed, retrying")
}
