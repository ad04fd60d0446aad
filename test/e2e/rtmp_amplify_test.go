package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/testutil"
)

// rssBytes returns the resident set size of process pid.
func rssBytes(t *testing.T, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestRTMPUnauthenticatedAmplification is issue 11's attack against the
// binary: 20 connections that never send connect raise the chunk size to
// 8 MiB, start unfinished 8 MiB messages and keep the connection alive with
// a 4-byte message every 200 ms, while 10 more keep sending complete
// messages. The server's RSS stays bounded and every connection is
// closed within the handshake timeout with a log line naming the reason.
func TestRTMPUnauthenticatedAmplification(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the server's RSS")
	}
	s := testutil.StartSluiceNoRace(t, []string{"SLUICE_RTMP_HANDSHAKE_TIMEOUT=3s"})
	pid := s.Cmd.Process.Pid
	base := rssBytes(t, pid)

	var wg sync.WaitGroup
	defer wg.Wait()
	var remotes []string
	closedAt := make([]time.Duration, 30)
	start := time.Now()
	for i := 0; i < 30; i++ {
		nc, err := net.Dial("tcp", s.RTMPAddr)
		require.NoError(t, err)
		defer nc.Close()
		require.NoError(t, nc.SetDeadline(time.Now().Add(20*time.Second)))
		require.NoError(t, rtmp.ClientHandshake(nc))
		remotes = append(remotes, nc.LocalAddr().String())
		// The server closing the connection ends this reader.
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(io.Discard, nc)
			closedAt[i] = time.Since(start)
			nc.Close()
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i < 20 {
				// The attack: 8 MiB chunk size, unfinished 8 MiB
				// messages on several chunk streams, then a trickle.
				b := rtmp.AppendChunks(nil, rtmp.SetChunkSizeMessage(8<<20), rtmp.DefaultChunkSize)
				for csid := byte(3); csid < 19; csid++ {
					b = append(b, csid, 0, 0, 0, 0x7F, 0xFF, 0xFF, rtmp.MsgVideo, 1, 0, 0, 0)
					b = append(b, make([]byte, 10)...)
				}
				if _, err := nc.Write(b); err != nil {
					return
				}
				for {
					time.Sleep(200 * time.Millisecond)
					if _, err := nc.Write(rtmp.AppendChunks(nil, rtmp.AckMessage(1), rtmp.DefaultChunkSize)); err != nil {
						return
					}
				}
			}
			// Complete messages, as big as allowed before connect, at
			// 8 MB/s each (bounded so the test does not monopolize a
			// shared machine).
			m := rtmp.AppendChunks(nil, &rtmp.Message{Type: rtmp.MsgSharedObjectAMF0, ChunkStreamID: 5, Payload: make([]byte, 16<<10)}, rtmp.DefaultChunkSize)
			for {
				if _, err := nc.Write(m); err != nil {
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}

	var peak int64
	deadline := time.Now().Add(20 * time.Second)
	for {
		peak = max(peak, rssBytes(t, pid))
		dropped := 0
		for _, r := range remotes {
			for _, l := range s.Logs("rtmp connection dropped") {
				if l["remote"] == r {
					dropped++
					break
				}
			}
		}
		if dropped == len(remotes) {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d of %d hostile connections logged as dropped after 20 s", dropped, len(remotes))
		time.Sleep(50 * time.Millisecond)
	}
	reasons := map[string]int{}
	for _, r := range remotes {
		n := 0
		for _, l := range s.Logs("rtmp connection") {
			if l["remote"] == r {
				n++
				reason := fmt.Sprint(l["reason"])
				if i := strings.Index(reason, "rtmp: invalid"); i >= 0 {
					reason = reason[i:]
				}
				reasons[reason]++
			}
		}
		require.Equal(t, 1, n, "log lines for connection %s", r)
	}
	t.Logf("RSS: base %d MiB, peak %d MiB during the attack; reasons: %v", base>>20, peak>>20, reasons)
	require.Equal(t, 20, reasons["rtmp: invalid chunk size 8388608 (limit 65536 before publishing)"], "reasons: %v", reasons)
	require.Equal(t, 10, reasons["handshake: no connect within 3s"], "reasons: %v", reasons)
	// Before the fix the same attack took RSS from ~50 MB to hundreds of
	// MB and the connections stayed open.
	require.Less(t, peak-base, int64(64<<20), "RSS grew by %d MiB", (peak-base)>>20)
	wg.Wait()
	for i, d := range closedAt {
		require.Less(t, d, 10*time.Second, "connection %d closed after %s", i, d)
	}
}
