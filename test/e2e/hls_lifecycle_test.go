package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestHLSPublisherReconnect: a publisher that drops and comes back within
// the republish grace period continues the same live playlist after an
// EXT-X-DISCONTINUITY (same packager session, media sequence continues),
// and the DASH MPD stays valid across it (same session and
// availabilityStartTime, increasing timeline, every segment served).
func TestHLSPublisherReconnect(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{"SLUICE_HUB_REPUBLISH_GRACE=15s"})
	rtmpURL := "rtmp://" + s.RTMPAddr + "/live/t"
	pub := testutil.PublishTestPattern(t, rtmpURL, testutil.PublishOptions{})
	waitForStream(t, s, "live/t")
	base := "http://" + s.HTTPAddr + "/live/"
	pl := parseLL(t, waitForPlaylist(t, base+"t.m3u8"))
	mpd0, _ := waitForMPD(t, base+"t.mpd")
	require.NotContains(t, pl.raw, "#EXT-X-DISCONTINUITY")
	sid := pl.mapURIs[0][len("t/hls/"):strings.Index(pl.mapURIs[0], "_init")]

	// Let a few segments accumulate, then drop the publisher hard and
	// republish.
	time.Sleep(3 * time.Second)
	pub.Kill()
	time.Sleep(500 * time.Millisecond)
	testutil.PublishTestPattern(t, rtmpURL, testutil.PublishOptions{})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	deadline := time.Now().Add(30 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		st, _, b := hlsGet(t, ctx, base+"t.m3u8")
		require.Equal(t, http.StatusOK, st, string(b))
		body = string(b)
		if strings.Contains(body, "#EXT-X-DISCONTINUITY\n") && strings.Count(body, "#EXTINF") > 0 {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	require.Contains(t, body, "#EXT-X-DISCONTINUITY\n", "playlist after the republish:\n%s", body)
	after := parseLL(t, body)
	require.GreaterOrEqual(t, after.mediaSeq, pl.mediaSeq, "one live playlist: media sequence continues")
	require.Contains(t, after.raw, sid, "same packager session")
	require.NotContains(t, after.raw, "#EXT-X-ENDLIST")
	t.Logf("playlist after the republish:\n%s", body)

	// Segments after the discontinuity are served and decodable.
	var last string
	for _, seg := range after.segments {
		last = seg.uri
	}
	st, _, b := hlsGet(t, ctx, base+last)
	require.Equal(t, http.StatusOK, st)
	require.NotEmpty(t, b)

	// The DASH MPD of the same packager stays valid.
	mpd1, _ := waitForMPD(t, base+"t.mpd")
	require.Equal(t, mpd0.ID, mpd1.ID)
	require.Equal(t, mpd0.AvailabilityStartTime, mpd1.AvailabilityStartTime)
	require.Equal(t, mpd0.Periods[0].ID, mpd1.Periods[0].ID, "same configuration: the Period continues")
	for p := range mpd1.Periods {
		for set := range mpd1.Periods[p].Sets {
			times := mpd1.times(p, set)
			for i := 1; i < len(times); i++ {
				require.Greater(t, times[i], times[i-1], "timeline increases")
			}
			tmpl := mpd1.Periods[p].Sets[set].Template
			for _, tt := range times {
				u := base + strings.ReplaceAll(tmpl.Media, "$Time$", fmt.Sprint(tt))
				st, _, b := hlsGet(t, ctx, u)
				require.Equal(t, http.StatusOK, st, u)
				require.NotEmpty(t, b, u)
			}
		}
	}
	res, err := testutil.Decode(t, base+"t.mpd", 3*time.Second)
	require.NoError(t, err)
	require.Empty(t, res.Errors)
	require.Greater(t, res.VideoFrames, 50)
}

// TestHLSEndlistOnSIGTERM: a viewer blocked on an LL-HLS playlist reload
// when the server gets SIGTERM is answered with the final playlist,
// ending in EXT-X-ENDLIST, and the server exits 0 within 5 s.
func TestHLSEndlistOnSIGTERM(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/t", testutil.PublishOptions{})
	waitForStream(t, s, "live/t")
	url := "http://" + s.HTTPAddr + "/live/t.m3u8"
	waitForPlaylist(t, url)

	// A viewer following the live edge with blocking reloads, as LL-HLS
	// clients do; it keeps the last playlist it got.
	var (
		mu       sync.Mutex
		lastBody string
		got      int
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 15 * time.Second}
		req := url
		for {
			resp, err := client.Get(req)
			if err != nil {
				return // the server is gone
			}
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if rerr != nil || resp.StatusCode != http.StatusOK {
				return
			}
			body := string(b)
			mu.Lock()
			lastBody, got = body, got+1
			mu.Unlock()
			if strings.Contains(body, "#EXT-X-ENDLIST") {
				return
			}
			hint := attr(body[strings.LastIndex(body, "#EXT-X-PRELOAD-HINT:"):], "URI")
			var msn uint64
			var idx int
			name := hint[strings.LastIndex(hint, "_part")+len("_part"):]
			if _, err := fmt.Sscanf(name, "%d.%d.m4s", &msn, &idx); err != nil {
				return
			}
			req = fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d", url, msn, idx)
		}
	}()
	time.Sleep(2 * time.Second)
	mu.Lock()
	require.Greater(t, got, 3, "the viewer follows the live edge")
	mu.Unlock()

	start := time.Now()
	require.NoError(t, s.Signal(syscall.SIGTERM))
	require.NoError(t, s.Wait(5*time.Second), "sluice must exit 0 within 5 s of SIGTERM")
	took := time.Since(start)
	<-done
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, lastBody, "#EXT-X-ENDLIST", "the last playlist the viewer got:\n%s", lastBody)
	require.NotContains(t, lastBody, "#EXT-X-PRELOAD-HINT", "an ended playlist hints no more parts")
	t.Logf("exit %s after SIGTERM; final playlist ends with EXT-X-ENDLIST", took)
}
