package e2e

import (
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

// pollResult is what one polling player saw.
type pollResult struct {
	polls   int
	ended   bool   // got a playlist/MPD that marks the end
	lastErr string // why it stopped, if not ended
}

// poll GETs url every interval (a player's reload timer, no blocking
// reload) until the body satisfies ended or a request fails.
func poll(url string, interval time.Duration, ended func(string) bool) pollResult {
	client := &http.Client{Timeout: 10 * time.Second}
	var r pollResult
	for {
		resp, err := client.Get(url)
		if err != nil {
			r.lastErr = err.Error()
			return r
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			r.lastErr = resp.Status
			return r
		}
		r.polls++
		if ended(string(b)) {
			r.ended = true
			return r
		}
		time.Sleep(interval)
	}
}

// TestHLSEndlistReachesPollingPlayers: 10 HLS players that reload the
// playlist on a timer (every target duration / 2, as RFC 8216 §6.3.4
// players do when a playlist has not changed) and a DASH player polling
// the MPD all see the end of the stream on SIGTERM (#EXT-X-ENDLIST; an MPD
// without minimumUpdatePeriod), and the server still exits 0 within 5 s.
// TestHLSEndlistOnSIGTERM passes on old main because its viewer is always
// blocked in a reload when the signal comes, which the HTTP shutdown waits
// for; these players are between polls, and on old main their next poll
// found the listener closed.
func TestHLSEndlistReachesPollingPlayers(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, []string{"SLUICE_HLS_VARIANT=fmp4"})
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/poll", testutil.PublishOptions{})
	waitForStream(t, s, "live/poll")
	url := "http://" + s.HTTPAddr + "/live/poll.m3u8"
	pl := waitForPlaylist(t, url)
	target := 2 * time.Second
	require.Contains(t, pl, "#EXT-X-TARGETDURATION:2")
	getText(t, "http://"+s.HTTPAddr+"/live/poll.mpd")

	const players = 10
	results := make([]pollResult, players+1)
	var wg sync.WaitGroup
	for i := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread over one interval, as independent players are.
			time.Sleep(time.Duration(i) * target / 2 / players)
			results[i] = poll(url, target/2, func(b string) bool { return strings.Contains(b, "#EXT-X-ENDLIST") })
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		results[players] = poll("http://"+s.HTTPAddr+"/live/poll.mpd", target/2, func(b string) bool {
			return !strings.Contains(b, "minimumUpdatePeriod") && strings.Contains(b, "mediaPresentationDuration")
		})
	}()
	// Let every player poll a few times at the live edge.
	time.Sleep(2 * target)

	start := time.Now()
	require.NoError(t, s.Signal(syscall.SIGTERM))
	require.NoError(t, s.Wait(5*time.Second), "sluice must exit 0 within 5 s of SIGTERM")
	took := time.Since(start)
	wg.Wait()
	for i, r := range results {
		who := "HLS player"
		if i == players {
			who = "DASH player"
		}
		require.Greater(t, r.polls, 2, "%s %d polled the live stream", who, i)
		require.True(t, r.ended, "%s %d never saw the end of the stream: after %d polls its next request failed: %s",
			who, i, r.polls, r.lastErr)
	}
	t.Logf("all %d HLS players and the DASH player saw the end; exit %s after SIGTERM", players, took)
}
