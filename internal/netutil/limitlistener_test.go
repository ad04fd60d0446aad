package netutil

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/testutil"
)

// serveLimited runs an http.Server with handler behind l on a loopback
// port, with the app's timeouts, and returns its address.
func serveLimited(t *testing.T, l *ConnLimiter, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv.ConnState = l.ConnState
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l.Listen(ln)) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().String()
}

// A client that requests a large response and never reads it is cut off
// after the write timeout: the handler's write fails and it returns, the
// connection closes, and the timeout is counted. (Without a write
// deadline the handler blocks for as long as the client stays.)
func TestWriteTimeoutDropsClientThatStopsReading(t *testing.T) {
	testutil.CheckGoroutines(t)
	const timeout = time.Second
	l := &ConnLimiter{WriteTimeout: timeout}
	returned := make(chan time.Duration, 1)
	var start time.Time
	addr := serveLimited(t, l, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start = time.Now()
		WriteMedia(w, r, "video/mp4", make([]byte, 64<<20))
		returned <- time.Since(start)
	})})
	c := testutil.DialSmallWindow(t, addr)
	_, err := io.WriteString(c, "GET /seg.m4s HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	select {
	case took := <-returned:
		t.Logf("handler returned %s after it started writing (write timeout %s)", took, timeout)
		require.GreaterOrEqual(t, took, timeout/2, "the deadline fires no sooner than timeout/2")
		require.Less(t, took, timeout+2*time.Second, "the handler returns within the write timeout (plus load margin)")
	case <-time.After(timeout + 10*time.Second):
		t.Fatalf("handler still blocked %s after the client stopped reading", timeout+10*time.Second)
	}
	// Reset, not closed: the kernel drops what the client did not read
	// instead of holding MiBs per connection while probing its window.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.Copy(io.Discard, c)
	require.ErrorIs(t, err, syscall.ECONNRESET, "the server resets the connection")
	require.EqualValues(t, 1, l.Stats().WriteTimeouts)
	require.Zero(t, l.Stats().Open, "the slot is given back")
}

// A client that reads slowly but steadily gets the whole response, and
// waits between writes (blocking playlist reloads, live streams) longer
// than the write timeout do not count: the deadline bounds writing, not
// the response.
func TestWriteTimeoutSparesSlowReaderAndWaits(t *testing.T) {
	testutil.CheckGoroutines(t)
	const timeout = time.Second
	l := &ConnLimiter{WriteTimeout: timeout}
	const size = 1 << 20
	addr := serveLimited(t, l, &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1048578")
		time.Sleep(3 * timeout / 2) // a blocking reload's wait
		_, _ = w.Write([]byte("a\n"))
		w.(http.Flusher).Flush()
		time.Sleep(3 * timeout / 2)
		_, _ = w.Write(make([]byte, size))
	})})
	c := testutil.DialSmallWindow(t, addr)
	_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 16<<10), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	start := time.Now()
	got := 0
	buf := make([]byte, 16<<10)
	for {
		// ≈ 16 KiB per 25 ms: 640 KiB/s, far below loopback speed, so the
		// socket stays full and every write waits for the reader.
		n, err := io.ReadFull(resp.Body, buf)
		got += n
		if err != nil {
			require.ErrorIs(t, err, io.ErrUnexpectedEOF)
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Logf("read %d bytes in %s", got, time.Since(start))
	require.Equal(t, size+2, got, "a client that keeps reading gets the whole body")
	require.Zero(t, l.Stats().WriteTimeouts)
}

// An idle keep-alive connection is closed after the idle timeout, a
// connection that does not finish its request headers after the read
// header timeout; each is counted as what it is.
func TestIdleAndHeaderTimeoutsAreCounted(t *testing.T) {
	testutil.CheckGoroutines(t)
	const timeout = 300 * time.Millisecond
	l := &ConnLimiter{WriteTimeout: time.Second}
	addr := serveLimited(t, l, &http.Server{
		IdleTimeout: timeout, ReadHeaderTimeout: timeout,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }),
	})

	idle, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer idle.Close()
	_, err = io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start := time.Now()
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closes the idle connection")
	t.Logf("idle connection closed %s after its response (idle timeout %s)", time.Since(start), timeout)

	slow, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer slow.Close()
	_, err = io.WriteString(slow, "GET / HTTP/1.1\r\nHost: x\r\n")
	require.NoError(t, err)
	closed, _ := testutil.ClosedByPeer(slow, 5*time.Second)
	require.True(t, closed, "a request whose headers never end is dropped")

	require.Eventually(t, func() bool { s := l.Stats(); return s.IdleTimeouts == 1 && s.HeaderTimeouts == 1 },
		2*time.Second, 10*time.Millisecond, "stats: %+v", l.Stats())
	require.Eventually(t, func() bool { return l.Stats().Open == 0 }, 2*time.Second, 10*time.Millisecond)
}

// Connections over the total cap are closed at accept and counted; a slot
// given back admits the next one.
func TestConnLimiterCapsTotal(t *testing.T) {
	testutil.CheckGoroutines(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := &ConnLimiter{MaxConns: 2}
	lln := l.Listen(ln)
	defer lln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := lln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
	}
	a, b := <-accepted, <-accepted
	// The refused connection is reset at once: the reset may even reach
	// the dialer before its connect returns.
	if third, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		defer third.Close()
		closed, _ := testutil.ClosedByPeer(third, 5*time.Second)
		require.True(t, closed, "the third connection is refused")
	}
	require.Eventually(t, func() bool { return l.Stats() == ConnStats{Open: 2, RefusedMax: 1} },
		5*time.Second, 10*time.Millisecond, "stats: %+v", l.Stats())

	require.NoError(t, a.Close())
	_ = a.Close() // a second Close gives nothing back twice
	require.Equal(t, 1, l.Stats().Open)
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	select {
	case d := <-accepted:
		defer d.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("a freed slot admits the next connection")
	}
	require.Equal(t, ConnStats{Open: 2, RefusedMax: 1}, l.Stats())
	b.Close()
}

// fakeListener hands out pipe connections from given remote addresses
// (never dialled: only the limiter's bookkeeping is under test).
type fakeListener struct {
	conns chan net.Conn
}

func (f *fakeListener) Accept() (net.Conn, error) {
	c, ok := <-f.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (f *fakeListener) Close() error   { return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func (f *fakeListener) connect(t *testing.T, remote string) (client net.Conn) {
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close(); client.Close() })
	f.conns <- addrConn{server, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(remote))}
	return client
}

// The per-address cap counts each IP (IPv4-mapped IPv6 as IPv4) but not
// loopback clients; refusals are counted apart from the total cap's.
func TestConnLimiterCapsPerIP(t *testing.T) {
	f := &fakeListener{conns: make(chan net.Conn, 16)}
	l := &ConnLimiter{MaxConns: 100, MaxConnsPerIP: 2}
	ln := l.Listen(f)
	accept := func() net.Conn {
		c, err := ln.Accept()
		require.NoError(t, err)
		return c
	}
	f.connect(t, "192.0.2.1:1000")
	f.connect(t, "[::ffff:192.0.2.1]:1001")
	a1, a2 := accept(), accept()
	refused := f.connect(t, "192.0.2.1:1002") // refused: Accept moves on
	f.connect(t, "192.0.2.2:1000")
	b1 := accept()
	require.Equal(t, "192.0.2.2:1000", b1.RemoteAddr().String())
	_, err := refused.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the refused pipe is closed")
	for i := range 5 {
		f.connect(t, "127.0.0.1:"+strings.Repeat("1", i+1))
		accept()
	}
	require.Equal(t, ConnStats{Open: 8, RefusedPerIP: 1}, l.Stats())
	require.NoError(t, a1.Close())
	f.connect(t, "192.0.2.1:1003")
	a3 := accept()
	require.Equal(t, "192.0.2.1:1003", a3.RemoteAddr().String())
	a2.Close()
	a3.Close()
	b1.Close()
	l.mu.Lock()
	require.Empty(t, l.perIP, "addresses without connections are forgotten")
	l.mu.Unlock()
}

// A connection whose owner sets its own write deadline (HTTP-FLV) is left
// to it; clearing the deadline hands it back to the limiter.
func TestLimitConnOwnerDeadline(t *testing.T) {
	f := &fakeListener{conns: make(chan net.Conn, 1)}
	l := &ConnLimiter{WriteTimeout: 100 * time.Millisecond}
	ln := l.Listen(f)
	f.connect(t, "192.0.2.1:1")
	c, err := ln.Accept()
	require.NoError(t, err)
	defer c.Close()
	// Nobody reads the pipe: every write blocks until a deadline.
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(600*time.Millisecond)))
	start := time.Now()
	_, err = c.Write([]byte("x"))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), 500*time.Millisecond, "the owner's deadline, not the limiter's")
	require.Zero(t, l.Stats().WriteTimeouts, "an owner's deadline is the owner's to report")

	require.NoError(t, c.SetWriteDeadline(time.Time{}))
	start = time.Now()
	_, err = c.Write([]byte("x"))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.Less(t, time.Since(start), 400*time.Millisecond, "the limiter's deadline again")
	require.EqualValues(t, 1, l.Stats().WriteTimeouts)
}

// Over HTTP/2 a client can stall a stream while its connection keeps
// flowing, by granting no flow-control window (Go's client stops after
// 4 MiB of an unread body): WriteMedia's stream deadline still fails the
// write, so the handler returns, and it is counted.
func TestWriteMediaHTTP2StalledStream(t *testing.T) {
	testutil.CheckGoroutines(t)
	const timeout = time.Second
	l := &ConnLimiter{WriteTimeout: timeout}
	returned := make(chan time.Duration, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		WriteMedia(w, r, "video/mp4", make([]byte, 32<<20))
		returned <- time.Since(start)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnContext = l.ConnContext
	srv.StartTLS()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/seg.m4s")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 2, resp.ProtoMajor)
	select {
	case took := <-returned:
		t.Logf("HTTP/2 handler returned after %s (write timeout %s)", took, timeout)
		require.Less(t, took, timeout+3*time.Second)
	case <-time.After(timeout + 10*time.Second):
		t.Fatal("the handler of a stalled HTTP/2 stream is still blocked")
	}
	require.Eventually(t, func() bool { return l.Stats().WriteTimeouts == 1 }, 2*time.Second, 10*time.Millisecond,
		"stats: %+v", l.Stats())
}
