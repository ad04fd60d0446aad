package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

var heapAllocRE = regexp.MustCompile(`(?m)^# HeapAlloc = (\d+)$`)

// liveHeap is the server's heap after a forced GC (pprof's heap profile
// with gc=1 collects first; its MemStats footer gives HeapAlloc).
func liveHeap(t *testing.T, pprofAddr string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+pprofAddr+"/debug/pprof/heap?gc=1&debug=1", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := heapAllocRE.FindSubmatch(b)
	require.NotNil(t, m, "no HeapAlloc in the heap profile")
	n, err := strconv.ParseInt(string(m[1]), 10, 64)
	require.NoError(t, err)
	return n
}

// rss is the resident set size of pid from /proc, in bytes (0 if unknown).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// TestMemoryReturnedAfterStreamsEnd publishes several streams in turn, each
// on a new path and read over HLS, DASH and HTTP-FLV by ffmpeg and over
// WHEP by a pion peer while it lives, and checks that the server's live heap returns near its baseline
// once each stream has ended and its viewers left: nothing per stream
// (packager windows, DASH fragments, caches keyed by stream or path)
// outlives it.
func TestMemoryReturnedAfterStreamsEnd(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	testutil.RequireTool(t, "ffmpeg")
	s := testutil.StartSluiceNoRace(t, []string{"SLUICE_DEBUG_PPROF_LISTEN=127.0.0.1:0"})
	logs := s.Logs("pprof listening")
	require.NotEmpty(t, logs)
	pprofAddr, _ := logs[0]["addr"].(string)
	require.NotEmpty(t, pprofAddr)
	pid := s.Cmd.Process.Pid

	const (
		streams = 3
		publish = 8 * time.Second
		// A stream's packager window alone is ≈ 7 MB at 3 Mb/s; the code
		// that kept ended streams' parts held ≥ 11 MB per stream. After
		// its end the heap measured within 0.1 MB of the baseline.
		slack = 3 << 20
		// An ended packager answers for its linger time (10 s) before it
		// is dropped, whoever still polls it.
		settle = 25 * time.Second
	)
	base := liveHeap(t, pprofAddr)
	t.Logf("baseline: heap %s, RSS %s", mb(base), mb(rss(pid)))
	for i := range streams {
		path := fmt.Sprintf("live/mem%d", i)
		pub := testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/"+path, testutil.PublishOptions{
			Pattern: testutil.Pattern{Size: "640x360", Bitrate: "3000k", Duration: publish},
		})
		waitForPlaylist(t, "http://"+s.HTTPAddr+"/"+path+".m3u8")
		var viewers []*testutil.Process
		for _, u := range []string{".m3u8", ".mpd", ".flv"} {
			viewers = append(viewers, testutil.Start(t, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
				"-i", "http://"+s.HTTPAddr+"/"+path+u, "-c", "copy", "-f", "null", "-"))
		}
		// WHEP too: the stream's shared RTP payloads and its AAC→Opus
		// derived track must go with it.
		whep := playWHEP(t, s.HTTPAddr, path)
		whep.waitFrames(t, 25, 20*time.Second)
		require.NoError(t, pub.Wait(publish+30*time.Second), "publisher %d", i)
		peak := liveHeap(t, pprofAddr)
		_ = whep.pc.Close()
		deadline := time.Now().Add(settle)
		for _, v := range viewers {
			if v.Wait(5*time.Second) != nil {
				v.Kill() // one still polling (ffmpeg's DASH demuxer) is stopped: only the server is judged
			}
		}
		heap := liveHeap(t, pprofAddr)
		for heap > base+slack && time.Now().Before(deadline) {
			time.Sleep(time.Second)
			heap = liveHeap(t, pprofAddr)
		}
		t.Logf("stream %d: heap %s at its end, %s after (baseline %s), RSS %s", i, mb(peak), mb(heap), mb(base), mb(rss(pid)))
		require.LessOrEqual(t, heap, base+slack,
			"stream %d: the live heap did not return within %s of the baseline %s within %s of the stream's end: %s",
			i, mb(slack), mb(base), settle, mb(heap))
		if i == 0 {
			// The first stream warms what every later one shares (code
			// paths, pools): it sets the baseline the others return to.
			base = max(base, heap)
		}
	}
}
