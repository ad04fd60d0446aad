package e2e

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// tagWatch reads an HTTP-FLV stream in the background and records when
// its last media tag arrived, how many came, and the times of the first
// video tag and of the newest one.
type tagWatch struct {
	tags atomic.Int64
	last atomic.Int64 // Unix ns of the last media tag
	// video is the Unix ns of the newest video tag.
	video atomic.Int64
	done  chan struct{}
	err   error
}

func watchTags(st *flvTagStream) *tagWatch {
	w := &tagWatch{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			tag, err := st.r.ReadTag()
			if err != nil {
				w.err = err
				return
			}
			if tag.Type == flv.TagVideo || tag.Type == flv.TagAudio {
				now := time.Now().UnixNano()
				w.tags.Add(1)
				w.last.Store(now)
				if tag.Type == flv.TagVideo {
					w.video.Store(now)
				}
			}
		}
	}()
	return w
}

// TestRelayOnDemandPullFromNginxRTMP: a source on nginx-rtmp
// (source_on_demand) is pulled only while someone watches: the first
// HTTP-FLV viewer starts it and an ffmpeg viewer decodes it; after the
// last viewer and the idle delay the pull stops (nginx's connection count
// drops back to the publisher alone); nginx restarting under a live pull
// is survived (the pull reconnects by itself; the viewer's stream goes
// on), and a new viewer decodes again.
func TestRelayOnDemandPullFromNginxRTMP(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	ng := testutil.StartNginxRTMP(t)
	src := "rtmp://" + ng.Addr + "/live/src"
	testutil.PublishTestPattern(t, src, testutil.PublishOptions{})
	require.Eventually(t, func() bool { return ng.Connections(t) == 1 }, 15*time.Second, 50*time.Millisecond,
		"ffmpeg's publish to nginx-rtmp: expected 1 connection")

	cfg := writeConfig(t, fmt.Sprintf(`paths:
  "pull/cam":
    source: %s
    source_on_demand: true
    source_on_demand_close_after: 2s
`, src))
	s := testutil.StartSluice(t, nil, "-config", cfg)
	flvURL := "http://" + s.HTTPAddr + "/pull/cam.flv"
	time.Sleep(500 * time.Millisecond) // nothing to wait for: proving nothing starts by itself
	require.Equal(t, 1, ng.Connections(t), "an on-demand source must not be pulled before a viewer asks")

	// The first viewer starts the pull; ffmpeg decodes what it gets.
	res, err := testutil.Decode(t, flvURL, 3*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 40, "ffmpeg decoded %d frames of the pulled stream in 3 s; errors: %v", res.VideoFrames, res.Errors)

	// After the last viewer, the pull ends within the idle delay (2 s)
	// plus polling.
	left := time.Now()
	require.Eventually(t, func() bool { return ng.Connections(t) == 1 }, 15*time.Second, 50*time.Millisecond,
		"the pull must stop after the last viewer and the idle delay; nginx connections: %d", ng.Connections(t))
	t.Logf("pull stopped %s after the last viewer left (close_after 2s)", time.Since(left).Round(100*time.Millisecond))
	waitLog(t, s, "relay pull stopped")

	// A viewer holds the pull while nginx restarts (with its publisher).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := openHTTPFLV(t, ctx, flvURL)
	require.NoError(t, err)
	w := watchTags(st)
	require.Eventually(t, func() bool { return w.tags.Load() > 25 }, 10*time.Second, 20*time.Millisecond, "viewer gets media")
	require.Equal(t, 2, ng.Connections(t), "publisher and Sluice's pull on nginx")

	restart := time.Now()
	ng.Restart(t)
	testutil.PublishTestPattern(t, src, testutil.PublishOptions{})
	require.Eventually(t, func() bool { return time.Unix(0, w.video.Load()).After(restart.Add(time.Second)) },
		20*time.Second, 20*time.Millisecond, "the pull must reconnect after nginx restarted (viewer err: %v)", w.err)
	t.Logf("video flowed again %s after the nginx restart began (nginx and its ffmpeg publisher restarted)",
		time.Duration(w.video.Load()-restart.UnixNano()).Round(10*time.Millisecond))
	// A new viewer starts at the GOP cache's keyframe: wait for one of the
	// new source's (2 s GOPs), as a viewer joining any republish does.
	require.Eventually(t, func() bool { return time.Unix(0, w.video.Load()).After(restart.Add(4 * time.Second)) },
		20*time.Second, 20*time.Millisecond, "video keeps flowing after the restart (viewer err: %v)", w.err)
	waitLog(t, s, "relay pull failed, retrying") // a reconnect logs its attempt
	cancel()
	<-w.done

	// A new viewer decodes again.
	res, err = testutil.Decode(t, flvURL, 2*time.Second)
	require.NoError(t, err)
	require.GreaterOrEqual(t, res.VideoFrames, 25, "after the restart ffmpeg decoded %d frames; errors: %v", res.VideoFrames, res.Errors)

	var list struct {
		Streams []struct {
			Path      string `json:"path"`
			Publisher *struct {
				Protocol string `json:"protocol"`
				Remote   string `json:"remote"`
			} `json:"publisher"`
			Source *struct {
				URL        string `json:"url"`
				State      string `json:"state"`
				Bytes      uint64 `json:"bytes"`
				Reconnects uint64 `json:"reconnects"`
			} `json:"source"`
		} `json:"streams"`
	}
	getJSON(t, "http://"+s.HTTPAddr+"/api/v1/streams", &list)
	found := false
	for _, st := range list.Streams {
		if st.Path == "pull/cam" && st.Source != nil {
			found = true
			require.NotNil(t, st.Publisher)
			require.Equal(t, "relay", st.Publisher.Protocol)
			require.Equal(t, src, st.Source.URL)
			require.Positive(t, st.Source.Bytes)
		}
	}
	require.True(t, found, "the API lists pull/cam with its source: %+v", list)
}
