package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// TestSRTAddedLatency measures what SRT publishing adds to publish →
// HTTP-FLV delivery, against RTMP on the same box: one ffmpeg encodes one
// real-time video (no audio, no B-frames) and its tee muxer writes every
// frame to RTMP (live/rtmp) and to SRT (live/srt) at the same moment. Two
// HTTP-FLV viewers note, per video tag, arrival wall time minus the tag's
// timestamp; both streams' timestamps start at the same first frame, so
// the difference of the two medians is the latency SRT adds (ffmpeg's TS
// muxing into 1316-byte messages plus SRT's latency window, srt.latency).
// It is a measurement, run on demand:
//
//	MEASURE_SRT=1 go test -count=1 -run TestSRTAddedLatency -v ./test/e2e/
//
// MEASURE_SRT_LATENCY sets the srt latency (ms) both ends ask for.
func TestSRTAddedLatency(t *testing.T) {
	if os.Getenv("MEASURE_SRT") == "" {
		t.Skip("measurement; set MEASURE_SRT=1")
	}
	lat := os.Getenv("MEASURE_SRT_LATENCY")
	if lat == "" {
		lat = "120"
	}
	s := testutil.StartSluiceNoRace(t, []string{"SLUICE_SRT_LATENCY=" + lat + "ms"})
	srtURL := testutil.SRTURL(s.SRTAddr, "publish:live/srt", "latency", lat+"000")
	tee := fmt.Sprintf("[f=flv]rtmp://%s/live/rtmp|[f=mpegts]%s", s.RTMPAddr, srtURL)
	testutil.Start(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0", "-g", "50",
		"-b:v", "1000k", "-an", "-map", "0:v", "-flags", "+global_header", "-f", "tee", tee)
	waitForStream(t, s, "live/rtmp")
	waitForStream(t, s, "live/srt")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const measure = 10 * time.Second
	delays := map[string][]time.Duration{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, path := range []string{"live/rtmp", "live/srt"} {
		st, err := openHTTPFLV(t, ctx, "http://"+s.HTTPAddr+"/"+path+".flv")
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			end := time.Now().Add(measure)
			for time.Now().Before(end) {
				tag, err := st.r.ReadTag()
				if err != nil {
					return
				}
				if tag.Type != flv.TagVideo {
					continue
				}
				now := time.Now()
				mu.Lock()
				delays[path] = append(delays[path], time.Duration(now.UnixNano())-time.Duration(tag.Timestamp)*time.Millisecond)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	med := map[string]time.Duration{}
	for path, d := range delays {
		require.Greater(t, len(d), 150, "%s: video tags in %s", path, measure)
		// The GOP cache's burst arrives late; take the live frames.
		d = d[len(d)/4:]
		slices.Sort(d)
		med[path] = d[len(d)/2]
		t.Logf("%s: %d frames, spread p10..p90 %s", path, len(d), d[len(d)*9/10]-d[len(d)/10])
	}
	added := med["live/srt"] - med["live/rtmp"]
	t.Logf("SRT publish → HTTP-FLV adds %s over RTMP publish → HTTP-FLV (srt latency %s ms)", added.Round(time.Millisecond), lat)
	require.Less(t, added, 2*time.Second, "SRT's added latency")
	require.False(t, strings.Contains(s.LogText(), "srt connection dropped"))
}
