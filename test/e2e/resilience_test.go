package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// readTagsFor reads tags from st for d and returns how many media tags
// arrived and the largest timestamp.
func readTagsFor(t *testing.T, st *flvTagStream, d time.Duration) (n int, maxTS uint32) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		tag, err := st.r.ReadTag()
		require.NoError(t, err)
		if tag.Type == flv.TagVideo || tag.Type == flv.TagAudio {
			n++
			maxTS = max(maxTS, tag.Timestamp)
		}
	}
	return n, maxTS
}

func TestSecondPublisherRefusedFirstKeepsGoing(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/busy", testutil.PublishOptions{})
	waitForStream(t, s, "live/busy")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, "rtmp://"+s.RTMPAddr+"/live/busy", nil)
	require.NoError(t, err)
	defer c.Close()
	err = c.Publish(ctx)
	var se *rtmp.StatusError
	require.True(t, errors.As(err, &se), "second publish must be refused with an onStatus error, got %v", err)
	require.Equal(t, "NetStream.Publish.BadName", se.Code)
	require.Contains(t, se.Description, "already being published")

	// A real encoder as the second publisher gives up too.
	second := testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/busy", testutil.PublishOptions{})
	require.Error(t, second.Wait(20*time.Second), "second ffmpeg publisher must fail")

	// The first publisher is unaffected: a viewer still gets live media.
	st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/busy.flv")
	require.NoError(t, err)
	_, ts1 := readTagsFor(t, st, time.Second)
	n, ts2 := readTagsFor(t, st, 2*time.Second)
	require.Greater(t, n, 50, "media tags in 2 s from the first publisher")
	require.Greater(t, ts2, ts1+1500, "timestamps advance in real time")
}

// dialNeverReading opens an HTTP-FLV request on a socket with a tiny receive
// buffer and never reads from it.
func dialNeverReading(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	nc := testutil.DialSmallWindow(t, addr)
	_, err := fmt.Fprintf(nc, "GET /%s.flv HTTP/1.1\r\nHost: %s\r\n\r\n", path, addr)
	require.NoError(t, err)
	return nc
}

func TestStalledViewerDoesNotSlowOthersAndIsDropped(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{"SLUICE_HUB_MAX_LAG=2s"})
	clip := testutil.MakeClip(t, testutil.ClipOptions{Size: "640x360", Bitrate: "3M"})
	c, err := replay.LoadClip(clip)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := &replay.Publisher{URL: "rtmp://" + s.RTMPAddr + "/live/slow", Clip: c}
	pubErr := make(chan error, 1)
	go func() { pubErr <- pub.Run(ctx) }()
	waitForStream(t, s, "live/slow")

	stalled := dialNeverReading(t, s.HTTPAddr, "live/slow")

	st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/slow.flv")
	require.NoError(t, err)
	var viewerBytes atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			tag, err := st.r.ReadTag()
			if err != nil {
				return
			}
			viewerBytes.Add(uint64(len(tag.Body)))
		}
	}()
	time.Sleep(2 * time.Second) // past the GOP-cache burst
	p0, v0 := pub.BytesSent(), viewerBytes.Load()
	time.Sleep(8 * time.Second)
	p1, v1 := pub.BytesSent(), viewerBytes.Load()
	published, received := p1-p0, v1-v0
	t.Logf("in 8 s: published %d bytes (%.2f Mb/s), healthy viewer received %d", published, float64(published)*8/8e6, received)
	require.Greater(t, published, uint64(2_000_000), "publisher must keep its pace (≈3 Mb/s) despite the stalled viewer")
	require.GreaterOrEqual(t, float64(received), 0.95*float64(published), "healthy viewer must keep up with the publisher")

	// The stalled viewer is dropped: the server logs it and closes its socket.
	local := stalled.LocalAddr().String()
	deadline := time.Now().Add(30 * time.Second)
	for {
		dropped := false
		for _, rec := range s.Logs("flv viewer dropped") {
			if rec["remote"] == local {
				dropped = true
			}
		}
		if dropped {
			break
		}
		require.True(t, time.Now().Before(deadline), "stalled viewer %s not dropped within 30 s", local)
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case err := <-pubErr:
		t.Fatalf("publisher stopped: %v", err)
	default:
	}
	cancel()
	wg.Wait()
}

func TestPublisherReconnectWithinGraceKeepsViewers(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{"SLUICE_HUB_REPUBLISH_GRACE=10s"})
	first := testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/re", testutil.PublishOptions{})
	waitForStream(t, s, "live/re")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/re.flv")
	require.NoError(t, err)
	_, before := readTagsFor(t, st, 2*time.Second)

	first.Kill()
	time.Sleep(time.Second)
	restart := time.Now()
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/re", testutil.PublishOptions{})

	// The same HTTP-FLV response continues with the new publisher's media,
	// on a timeline that keeps going forward.
	var after int
	var lastTS uint32
	for after < 100 {
		require.Less(t, time.Since(restart), 30*time.Second, "viewer got %d tags from the new publisher", after)
		tag, err := st.r.ReadTag()
		require.NoError(t, err, "viewer connection must survive the reconnect")
		if tag.Type != flv.TagVideo {
			continue
		}
		require.GreaterOrEqual(t, tag.Timestamp+500, lastTS, "video timestamps must not jump back")
		lastTS = max(lastTS, tag.Timestamp)
		if tag.Timestamp > before+500 {
			after++
		}
	}
	require.Greater(t, lastTS, before, "timeline continues after reconnect")
}
