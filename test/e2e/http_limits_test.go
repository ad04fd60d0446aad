package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// metricValue scrapes /metrics on a connection of its own and returns the
// value of the sample whose name and labels are series, e.g.
// `sluice_http_timeouts_total{kind="write"}`; -1 if absent or the scrape
// fails (callers poll).
func metricValue(httpAddr, series string) float64 {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return -1
	}
	return v
}

// TestHTTPWriteTimeoutDropsClientThatStopsReading: a client that asks for
// HLS segments (pipelined, 40 of them: ~20 MB, more than the sockets
// buffer) and never reads is disconnected after http.write_timeout: the
// handler blocked in its write returns, the connection closes, and
// /metrics counts it. Old main kept such clients (and their handlers and
// socket memory) for as long as they stayed.
func TestHTTPWriteTimeoutDropsClientThatStopsReading(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	const timeout = time.Second
	s := testutil.StartSluice(t, []string{"SLUICE_HTTP_WRITE_TIMEOUT=" + timeout.String(), "SLUICE_HLS_VARIANT=fmp4"})
	testutil.PublishTestPattern(t, "rtmp://"+s.RTMPAddr+"/live/big", testutil.PublishOptions{
		Pattern: testutil.Pattern{Bitrate: "2M"}})
	waitForStream(t, s, "live/big")
	pl := waitForPlaylist(t, "http://"+s.HTTPAddr+"/live/big.m3u8")
	var seg string
	for _, l := range strings.Split(pl, "\n") {
		if strings.HasSuffix(l, ".m4s") {
			seg = "/live/" + l
			break
		}
	}
	require.NotEmpty(t, seg, "a segment URI in:\n%s", pl)
	size := len(getText(t, "http://"+s.HTTPAddr+seg))
	t.Logf("segment %s: %d bytes", seg, size)

	c := testutil.DialSmallWindow(t, s.HTTPAddr)
	var reqs strings.Builder
	for range 40 {
		fmt.Fprintf(&reqs, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", seg)
	}
	sent := time.Now()
	_, err := io.WriteString(c, reqs.String())
	require.NoError(t, err)

	// The server logs the drop; its log time minus our send time bounds
	// how long the client held the handler.
	require.Eventually(t, func() bool { return len(s.Logs("client stopped reading")) > 0 },
		timeout+10*time.Second, 20*time.Millisecond, "no write timeout within %s of a client that stopped reading", timeout+10*time.Second)
	rec := s.Logs("client stopped reading")[0]
	logged, err := time.Parse(time.RFC3339Nano, rec["time"].(string))
	require.NoError(t, err)
	t.Logf("client dropped %s after its requests were sent (write timeout %s); log: %v", logged.Sub(sent), timeout, rec)
	require.Less(t, logged.Sub(sent), timeout+5*time.Second)

	closed, n := testutil.ClosedByPeer(c, 10*time.Second)
	require.True(t, closed, "the server must close the connection of a client that stopped reading (read %d bytes, then it stayed open)", n)
	require.Less(t, n, int64(40*size/2), "the server gave up long before sending every response")
	require.GreaterOrEqual(t, metricValue(s.HTTPAddr, `sluice_http_timeouts_total{kind="write"}`), 1.0)
}

// TestHTTPIdleKeepAliveClosed: an idle keep-alive connection is closed by
// the server after http.idle_timeout, and counted. Old main left idle
// connections open indefinitely (735 s and counting).
func TestHTTPIdleKeepAliveClosed(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	const idle = time.Second
	s := testutil.StartSluice(t, []string{"SLUICE_HTTP_IDLE_TIMEOUT=" + idle.String()})
	c, err := net.Dial("tcp", s.HTTPAddr)
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(idle + 5*time.Second))
	_, err = br.ReadByte()
	took := time.Since(start)
	require.ErrorIs(t, err, io.EOF, "the server must close a keep-alive connection idle for %s (waited %s)", idle, took)
	t.Logf("idle keep-alive connection closed %s after its response (idle timeout %s)", took, idle)
	require.GreaterOrEqual(t, took, idle-100*time.Millisecond)
	require.Eventually(t, func() bool {
		return metricValue(s.HTTPAddr, `sluice_http_timeouts_total{kind="idle"}`) >= 1
	}, 5*time.Second, 50*time.Millisecond, "the idle close is counted")
}

// TestHTTPConnectionCap: with http.max_connections open, a further
// connection is refused at accept (no answer, just the close), logged once
// and counted; a freed slot admits the next client. Old main accepted
// every connection.
func TestHTTPConnectionCap(t *testing.T) {
	t.Parallel() // mostly waits (see main_test.go)
	const limit = 4
	s := testutil.StartSluice(t, []string{"SLUICE_HTTP_MAX_CONNECTIONS=" + strconv.Itoa(limit)})
	var held []net.Conn
	for range limit {
		c, err := net.Dial("tcp", s.HTTPAddr)
		require.NoError(t, err)
		defer c.Close()
		// A full exchange, so the server has surely accepted it.
		_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		resp.Body.Close()
		held = append(held, c)
	}
	over, err := net.Dial("tcp", s.HTTPAddr)
	if err == nil { // the reset may even beat connect's return
		defer over.Close()
		_, _ = io.WriteString(over, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		closed, n := testutil.ClosedByPeer(over, 5*time.Second)
		require.True(t, closed, "a connection over http.max_connections=%d must be closed", limit)
		require.Zero(t, n, "and get no answer")
	}
	waitLog(t, s, "http connection refused")
	rec := s.Logs("http connection refused")[0]
	require.Equal(t, "max_connections", rec["reason"], "log: %v", rec)

	held[0].Close()
	// A scrape that comes before the server has seen the close is itself
	// refused (and counted): allow for those.
	failed, refused := 0, -1.0
	require.Eventually(t, func() bool {
		refused = metricValue(s.HTTPAddr, `sluice_http_connections_refused_total{reason="max_connections"}`)
		if refused < 0 {
			failed++
		}
		return refused >= 1
	}, 5*time.Second, 50*time.Millisecond, "the refusal is counted, and a freed slot serves /metrics")
	require.LessOrEqual(t, refused, float64(1+failed), "one refusal, plus the scrapes refused before the slot was free")
}
