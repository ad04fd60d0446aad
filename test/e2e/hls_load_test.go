package e2e

import (
	"bufio"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// procStat returns a process's CPU seconds (user+system) and RSS bytes.
func procStat(t *testing.T, pid int) (cpu float64, rss int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			rss = kb << 10
		}
	}
	return (ut + st) / 100, rss
}

// TestHLSManyIdleBlockingRequests holds 10,000 blocking playlist reloads
// (for a part two segments ahead) open at once: while they wait the server
// burns no CPU on them and stays within a bounded memory, and every one is
// answered when the part exists.
func TestHLSManyIdleBlockingRequests(t *testing.T) {
	n := 10000
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	if lim.Max < uint64(n)+1000 {
		// This machine's hard limit; both processes need one fd per request.
		n = max(int(lim.Max)-1000, 100)
		t.Logf("RLIMIT_NOFILE hard limit %d: holding %d requests instead of 10000", lim.Max, n)
	}
	lim.Cur = lim.Max
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)) // inherited by the server

	// Without the race detector: it multiplies the memory and CPU measured.
	s := testutil.StartSluiceNoRace(t, nil)
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/many", testutil.PublishOptions{})
	waitForStream(t, s, "live/many")
	url := "http://" + s.HTTPAddr + "/live/many.m3u8"
	body := waitForPlaylist(t, url)
	msn := -1
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, "#EXT-X-MEDIA-SEQUENCE:"); ok {
			msn, _ = strconv.Atoi(v)
		}
	}
	require.GreaterOrEqual(t, msn, 0)
	last := msn + strings.Count(body, "#EXTINF:") - 1
	target := last + 2 // the furthest a client may block for (RFC 8216bis §6.2.5.2)
	pid := s.Cmd.Process.Pid
	cpu0, rss0 := procStat(t, pid)

	req := fmt.Sprintf("GET /live/many.m3u8?_HLS_msn=%d&_HLS_part=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", s.HTTPAddr)
		require.NoError(t, err, "connection %d", i)
		conns = append(conns, c)
		_, err = c.Write([]byte(req))
		require.NoError(t, err)
	}
	opened := time.Since(start)
	// While they wait: measure the server's CPU rate in five 200 ms
	// windows and keep the lowest. Waiters that spin would cost in every
	// window; the server finishing reading the last requests, its own
	// packaging on a loaded box, or the part arriving early and all
	// requests being answered only raise some windows.
	idleCPU := math.Inf(1)
	var rates []string
	cpuA, _ := procStat(t, pid)
	for range 5 {
		time.Sleep(200 * time.Millisecond)
		cpuB, _ := procStat(t, pid)
		rate := (cpuB - cpuA) / 0.2
		rates = append(rates, fmt.Sprintf("%.2f", rate))
		idleCPU = min(idleCPU, rate)
		cpuA = cpuB
	}
	_, rssHeld := procStat(t, pid)
	t.Logf("server CPU while holding, per 200 ms window (CPU-s per s): %s", strings.Join(rates, " "))

	var ok, other atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err == nil && strings.HasPrefix(line, "HTTP/1.1 200") {
				ok.Add(1)
			} else {
				other.Add(1)
			}
		}(c)
	}
	wg.Wait()
	cpu1, _ := procStat(t, pid)
	t.Logf("%d blocking requests opened in %s; server while holding them: at least %.2f CPU-s per s, RSS %d → %d MB (%.1f KB per request); all answered after %s; total CPU %.2f s",
		n, opened.Round(time.Millisecond), idleCPU, rss0>>20, rssHeld>>20, float64(rssHeld-rss0)/1024/float64(n), time.Since(start).Round(time.Millisecond), cpu1-cpu0)
	require.EqualValues(t, n, ok.Load(), "every blocked request answered 200 once its part exists (%d others)", other.Load())
	require.Less(t, idleCPU, 0.3, "idle blocking requests must not spin: lowest CPU rate (CPU-s per s) while holding")
	require.Less(t, rssHeld-rss0, int64(n)*64<<10, "memory per held request must stay small")
}
