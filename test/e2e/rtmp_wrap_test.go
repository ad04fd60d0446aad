package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/replay"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// wrapSample is one video tag a viewer received: its 32-bit timestamp and
// when it arrived.
type wrapSample struct {
	ts uint32
	at time.Time
}

// checkNoJump asserts a viewer's video timestamps advance with the wall
// clock: every step between consecutive tags is in 0..1000 ms read modulo
// 2^32 (so a wrap is a small step), and the media advanced as much as the
// wall clock did, within 1.5 s.
func checkNoJump(t *testing.T, name string, samples []wrapSample) {
	t.Helper()
	require.Greater(t, len(samples), 50, "%s: too few video tags", name)
	var media int64 // ms advanced, unwrapped by the test itself
	for i := 1; i < len(samples); i++ {
		step := int64(int32(samples[i].ts - samples[i-1].ts))
		require.True(t, step >= 0 && step <= 1000, "%s: tag %d: timestamp %d after %d, a step of %d ms",
			name, i, samples[i].ts, samples[i-1].ts, step)
		media += step
	}
	wall := samples[len(samples)-1].at.Sub(samples[0].at)
	require.InDelta(t, wall.Milliseconds(), media, 1500, "%s: media advanced %d ms in %s of wall clock", name, media, wall)
	t.Logf("%s: %d video tags, first ts %d, last ts %d: %d ms of media in %s", name, len(samples),
		samples[0].ts, samples[len(samples)-1].ts, media, wall.Round(time.Millisecond))
}

// TestRTMPTimestampWrap (issue 11): a publisher whose clock starts 5 s
// before RTMP's 32-bit millisecond timestamp wraps is played over RTMP and
// HTTP-FLV across the wrap: timestamps advance with the wall clock, with no
// jump.
func TestRTMPTimestampWrap(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	s := testutil.StartSluice(t, nil)
	clip, err := replay.LoadClip(testutil.MakeClip(t, testutil.ClipOptions{}))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub := &replay.Publisher{URL: "rtmp://" + s.RTMPAddr + "/live/wrap", Clip: clip, StartTimestamp: 1<<32 - 5000}
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.Run(ctx) }()
	waitForStream(t, s, "live/wrap")

	const watch = 9 * time.Second // the wrap is at 5 s of media
	var wg sync.WaitGroup
	var rtmpSamples, flvSamples []wrapSample
	var rtmpErr, flvErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		c, err := rtmp.Dial(ctx, "rtmp://"+s.RTMPAddr+"/live/wrap", nil)
		if err != nil {
			rtmpErr = err
			return
		}
		defer c.Close()
		if rtmpErr = c.Play(ctx); rtmpErr != nil {
			return
		}
		end := time.Now().Add(watch)
		for time.Now().Before(end) {
			m, err := c.ReadMessage()
			if err != nil {
				rtmpErr = err
				return
			}
			if m.Type == rtmp.MsgVideo && len(m.Payload) > 1 && m.Payload[1] == 1 { // coded frames
				rtmpSamples = append(rtmpSamples, wrapSample{m.Timestamp, time.Now()})
			}
		}
	}()
	go func() {
		defer wg.Done()
		st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/live/wrap.flv")
		if err != nil {
			flvErr = err
			return
		}
		end := time.Now().Add(watch)
		for time.Now().Before(end) {
			tag, err := st.r.ReadTag()
			if err != nil {
				flvErr = err
				return
			}
			if tag.Type == flv.TagVideo && len(tag.Body) > 1 && tag.Body[1] == 1 {
				flvSamples = append(flvSamples, wrapSample{tag.Timestamp, time.Now()})
			}
		}
	}()
	wg.Wait()
	require.NoError(t, rtmpErr, "RTMP viewer")
	require.NoError(t, flvErr, "HTTP-FLV viewer")
	// The first tags are the GOP cache, delivered at once: judge from the
	// live edge on (after 1 s).
	live := func(s []wrapSample) []wrapSample {
		for i := range s {
			if s[i].at.Sub(s[0].at) > time.Second {
				return s[i:]
			}
		}
		return nil
	}
	checkNoJump(t, "RTMP", live(rtmpSamples))
	checkNoJump(t, "HTTP-FLV", live(flvSamples))
	// The hub got a continuous timeline: it saw no jump to repair (the old
	// code's wrap from 2^32-1 to 0 ms was "publisher timestamp jump
	// rebased").
	for _, r := range s.Logs("") {
		require.False(t, r["component"] == "hub" && r["level"] == "WARN", "hub warning: %v", r)
	}
	select {
	case err := <-pubDone:
		t.Fatalf("publisher ended early: %v", err)
	default:
	}
}
