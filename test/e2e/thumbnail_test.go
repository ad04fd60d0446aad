package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// GET /APP/NAME.jpg is the stream's newest keyframe as a JPEG of the
// stream's size; 50 concurrent requests share one ffmpeg run; an unknown
// stream is 404; the path's play keys apply as to any play.
func TestThumbnail(t *testing.T) {
	t.Parallel() // waits on a real-time publish; asserts no timing
	cfg := writeConfig(t, `
paths:
  "keyed/*":
    play_keys: ["view-k"]
`)
	s := testutil.StartSluice(t, nil, "-config", cfg)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/thumb", testutil.PublishOptions{Pattern: testutil.Pattern{Size: "416x240"}})
	waitForStream(t, s, "live/thumb")
	waitForVideoTag(t, "http://"+s.HTTPAddr+"/live/thumb.flv") // a keyframe is in the GOP cache

	const n = 50
	type answer struct {
		status int
		ctype  string
		body   []byte
		err    error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &answers[i]
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.HTTPAddr+"/live/thumb.jpg", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				a.err = err
				return
			}
			defer resp.Body.Close()
			a.status, a.ctype = resp.StatusCode, resp.Header.Get("Content-Type")
			a.body, a.err = io.ReadAll(resp.Body)
		}()
	}
	wg.Wait()
	for i, a := range answers {
		require.NoError(t, a.err, "request %d", i)
		require.Equal(t, http.StatusOK, a.status, "request %d: %s", i, a.body)
		require.Equal(t, "image/jpeg", a.ctype, "request %d", i)
		img, err := jpeg.Decode(bytes.NewReader(a.body))
		require.NoError(t, err, "request %d: not a JPEG", i)
		size := img.Bounds().Size()
		require.Equal(t, "416x240", fmt.Sprintf("%dx%d", size.X, size.Y), "request %d: the stream's size", i)
	}
	made := metricValue(s.HTTPAddr, `sluice_thumbnails_total{result="made"}`)
	cached := metricValue(s.HTTPAddr, `sluice_thumbnails_total{result="cached"}`)
	require.Equal(t, [2]float64{1, n - 1}, [2]float64{made, cached},
		"(ffmpeg runs, answers from the cache or the run in flight) for %d concurrent requests", n)

	status, body := httpStatus(t, "http://"+s.HTTPAddr+"/live/nobody.jpg")
	require.Equal(t, http.StatusNotFound, status, "unknown stream: %s", body)
	status, body = httpStatus(t, "http://"+s.HTTPAddr+"/keyed/cam.jpg")
	require.Equal(t, http.StatusUnauthorized, status, "a path with play keys, no key: %s", body)
	status, body = httpStatus(t, "http://"+s.HTTPAddr+"/keyed/cam.jpg?key=wrong")
	require.Equal(t, http.StatusUnauthorized, status, "wrong key: %s", body)
	status, body = httpStatus(t, "http://"+s.HTTPAddr+"/keyed/cam.jpg?key=view-k")
	require.Equal(t, http.StatusNotFound, status, "with the key, past auth to the (absent) stream: %s", body)
	require.Equal(t, float64(1), metricValue(s.HTTPAddr, `sluice_thumbnails_total{result="made"}`), "refusals run no ffmpeg")
}

// waitForVideoTag reads HTTP-FLV at url until its first video tag (a new
// viewer starts at the GOP cache's keyframe), or fails the test.
func waitForVideoTag(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, url)
	require.NoError(t, err)
	defer st.body.Close()
	for {
		tag, err := st.r.ReadTag()
		require.NoError(t, err, "no video tag within 20s")
		if tag.Type == flv.TagVideo {
			return
		}
	}
}
