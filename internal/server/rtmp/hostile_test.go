package rtmpserver

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sluicemedia/sluice/internal/amf0"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/rtmp"
)

// startServerWith serves srv (Hub and Logger filled in when nil) on a
// loopback port until the test ends.
func startServerWith(t *testing.T, srv *Server, rec *logRec) string {
	t.Helper()
	if srv.Logger == nil {
		srv.Logger = slogFor(rec)
	}
	if srv.Hub == nil {
		srv.Hub = hub.New(hub.Options{Logger: srv.Logger, RepublishGrace: 100 * time.Millisecond})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln, "rtmp") }()
	t.Cleanup(func() {
		srv.Hub.Close()
		require.NoError(t, srv.Close())
		<-done
	})
	return ln.Addr().String()
}

// rawClient is our hostile RTMP client: a handshaken socket we write
// arbitrary chunks to.
type rawClient struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	c := dialRawUnread(t, addr)
	go func() { _, _ = io.Copy(io.Discard, c.nc) }() // the server's replies
	return c
}

// dialRawUnread is dialRaw for a client that reads nothing after the
// handshake.
func dialRawUnread(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	require.NoError(t, nc.SetDeadline(time.Now().Add(10*time.Second)))
	require.NoError(t, rtmp.ClientHandshake(nc))
	require.NoError(t, nc.SetDeadline(time.Time{}))
	return &rawClient{t: t, nc: nc}
}

func (c *rawClient) write(b []byte) { _, _ = c.nc.Write(b) }

func (c *rawClient) msg(m *rtmp.Message, chunkSize uint32) {
	c.write(rtmp.AppendChunks(nil, m, chunkSize))
}

// connect sends a connect command for app (no credentials needed).
func (c *rawClient) connect(app string) {
	cmd := &rtmp.Command{Name: "connect", TransactionID: 1, Object: amf0.Object{{Key: "app", Value: app}, {Key: "tcUrl", Value: "rtmp://h/" + app}}}
	m, err := cmd.Message(3, 0)
	require.NoError(c.t, err)
	c.msg(m, rtmp.DefaultChunkSize)
}

// publish sends connect, createStream and publish of name on app, without
// waiting for the replies (the server handles them in order).
func (c *rawClient) publish(app, name string) { c.start(app, "publish", name) }

// play is publish for play.
func (c *rawClient) play(app, name string) { c.start(app, "play", name) }

func (c *rawClient) start(app, verb, name string) {
	c.connect(app)
	for _, cmd := range []*rtmp.Command{
		{Name: "createStream", TransactionID: 2},
		{Name: verb, TransactionID: 3, Args: []any{name, "live"}},
	} {
		sid := uint32(0)
		if cmd.Name == verb {
			sid = 1
		}
		m, err := cmd.Message(3, sid)
		require.NoError(c.t, err)
		c.msg(m, rtmp.DefaultChunkSize)
	}
}

// startMessage sends a type-0 header on csid declaring a message of
// length bytes, then n bytes of it (n within one chunk).
func (c *rawClient) startMessage(csid byte, length, n int) {
	b := []byte{csid, 0, 0, 0, byte(length >> 16), byte(length >> 8), byte(length), rtmp.MsgVideo, 1, 0, 0, 0}
	c.write(append(b, make([]byte, n)...))
}

// trickle sends a 4-byte Acknowledgement every interval until the server
// closes the connection or stop closes.
func (c *rawClient) trickle(interval time.Duration, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(interval):
		}
		if _, err := c.nc.Write(rtmp.AppendChunks(nil, rtmp.AckMessage(1), rtmp.DefaultChunkSize)); err != nil {
			return
		}
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// TestHostileUnfinishedMessagesBounded is issue 11's amplification: clients
// that never authenticate raise the chunk size to 8 MiB, start unfinished
// 8 MiB messages and keep the connection open with a 4-byte message every
// 200 ms — and variants that stay within the pre-publish limits. The
// server's memory stays bounded, each is closed with one WARN line naming
// what fired, and an authorized publisher still sends 1 MiB messages.
func TestHostileUnfinishedMessagesBounded(t *testing.T) {
	rec := newLogRec()
	srv := &Server{HandshakeTimeout: 2 * time.Second, IdleTimeout: 3 * time.Second, Auth: &fakeAuth{}}
	addr := startServerWith(t, srv, rec)
	runtime.GC()
	base := heapInUse()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	type attack struct {
		name, reason string
		run          func(c *rawClient)
	}
	attacks := []attack{
		{"8 MiB chunks and messages", "invalid chunk size 8388608 (limit 65536 before publishing)", func(c *rawClient) {
			c.msg(rtmp.SetChunkSizeMessage(8<<20), rtmp.DefaultChunkSize)
			for csid := byte(3); csid < 11; csid++ {
				c.startMessage(csid, 8<<20-1, 10)
			}
		}},
		{"many small unfinished messages", "over the per-connection limit", func(c *rawClient) {
			c.msg(rtmp.SetChunkSizeMessage(2048), rtmp.DefaultChunkSize)
			for csid := byte(3); csid < 63; csid++ {
				c.startMessage(csid, 16000, 2048) // one whole chunk each
			}
		}},
		{"8 MiB message after connect", "exceeds limit 16384 before publishing", func(c *rawClient) {
			c.connect("live")
			c.msg(rtmp.SetChunkSizeMessage(64<<10), rtmp.DefaultChunkSize)
			for csid := byte(4); csid < 11; csid++ {
				c.startMessage(csid, 8<<20-1, 10)
			}
		}},
		{"trickle without connect", "handshake: no connect within 2s", func(c *rawClient) {
			c.startMessage(4, 16000, rtmp.DefaultChunkSize)
		}},
		{"trickle after connect", "no publish or play within 3s of connect", func(c *rawClient) {
			c.connect("live")
			c.startMessage(4, 16000, rtmp.DefaultChunkSize)
		}},
		{"connect again", "a second connect on one connection", func(c *rawClient) {
			c.connect("live")
			c.connect("live")
		}},
	}
	type victim struct {
		attack
		c      *rawClient
		closed atomic.Bool
		at     time.Time
	}
	var victims []*victim
	start := time.Now()
	for i := 0; i < 20; i++ {
		a := attacks[0] // half of them: the attack
		if i >= 10 {
			a = attacks[1+i%(len(attacks)-1)]
		}
		v := &victim{attack: a, c: dialRaw(t, addr)}
		v.run(v.c)
		victims = append(victims, v)
		wg.Add(1)
		go func() { defer wg.Done(); v.c.trickle(200*time.Millisecond, stop) }()
	}

	// An authorized publisher may send big messages meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := rtmp.Dial(ctx, "rtmp://"+addr+"/live/ok?key=k", nil)
	require.NoError(t, err)
	defer pub.Close()
	require.NoError(t, pub.Publish(ctx))
	require.NoError(t, pub.Conn().SetOutChunkSize(64<<10))
	for i := 0; i < 4; i++ {
		require.NoError(t, pub.WriteMessage(&rtmp.Message{Type: rtmp.MsgSharedObjectAMF0, Payload: make([]byte, 1<<20)}))
	}
	// It keeps talking, as publishers do (the idle timeout is 3 s here).
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if pub.WriteMessage(&rtmp.Message{Type: rtmp.MsgSharedObjectAMF0, Payload: []byte{0}}) != nil {
				return
			}
		}
	}()

	var peakHeap uint64
	var peakUnfinished int64
	deadline := time.Now().Add(15 * time.Second)
	for {
		peakHeap = max(peakHeap, heapInUse())
		peakUnfinished = max(peakUnfinished, srv.UnfinishedBytes())
		open := 0
		for _, v := range victims {
			if v.closed.Load() {
				continue
			}
			if len(rec.lines("rtmp connection dropped", map[string]string{"remote": v.c.nc.LocalAddr().String()})) > 0 {
				v.closed.Store(true)
				v.at = time.Now()
				continue
			}
			open++
		}
		if open == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "%d hostile connections still open after 15 s; logs:\n%s", open, rec.dump())
		time.Sleep(20 * time.Millisecond)
	}
	for _, v := range victims {
		lines := rec.lines("rtmp connection", map[string]string{"remote": v.c.nc.LocalAddr().String()})
		require.Len(t, lines, 1, "%s: want one log line for the connection; logs:\n%s", v.name, rec.dump())
		require.Contains(t, lines[0].Attrs["reason"], v.reason, "%s: logged reason", v.name)
		require.Equal(t, "WARN", lines[0].Level.String(), v.name)
		// The server closed the socket: our writes fail from now on.
		_ = v.c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		t.Logf("%s: closed after %s: %s", v.name, v.at.Sub(start).Round(10*time.Millisecond), lines[0].Attrs["reason"])
	}
	growth := int64(peakHeap) - int64(base)
	t.Logf("heap in use: base %d MiB, peak %d MiB; peak unfinished bytes %d", base>>20, peakHeap>>20, peakUnfinished)
	// 20 connections of at most 64 KiB each, plus a 1 MiB publisher
	// message; the old code held 8 MiB for each of the first ten (and kept
	// them open).
	require.Less(t, growth, int64(48<<20), "heap grew by %d MiB under the attack", growth>>20)
	require.LessOrEqual(t, peakUnfinished, int64(20*rtmp.DefaultRestrictedMaxUnfinishedBytes+(1<<20)))

	require.Empty(t, rec.lines("rtmp connection dropped", map[string]string{"remote": pub.LocalAddr().String()}),
		"the authorized publisher was dropped; logs:\n%s", rec.dump())
	require.NoError(t, pub.WriteMessage(&rtmp.Message{Type: rtmp.MsgSharedObjectAMF0, Payload: make([]byte, 1<<20)}))
	pub.Close()
	require.Eventually(t, func() bool { return srv.UnfinishedBytes() == 0 }, 5*time.Second, 20*time.Millisecond,
		"unfinished bytes not returned after every connection closed: %d", srv.UnfinishedBytes())
}

// TestUnfinishedBudgetSharedByConnections: authorized publishers that each
// stay within their own limit are closed, with a log line naming the
// server-wide budget, when together they would exceed it; the others and
// the budget are unharmed.
func TestUnfinishedBudgetSharedByConnections(t *testing.T) {
	rec := newLogRec()
	srv := &Server{UnfinishedBudget: 5 << 20, Auth: &fakeAuth{}}
	addr := startServerWith(t, srv, rec)
	var pubs []*rawClient
	for i := 0; i < 4; i++ {
		c := dialRaw(t, addr)
		c.publish("live", fmt.Sprintf("b%d?key=k", i))
		c.msg(rtmp.SetChunkSizeMessage(2<<20), rtmp.DefaultChunkSize)
		// 1.5 MiB of a 2 MiB message: a 2 MiB buffer each, so the third
		// does not fit in 5 MiB.
		c.startMessage(6, 2<<20, 3<<19)
		pubs = append(pubs, c)
		// In order: the first two fit, the third and fourth are over.
		if i < 2 {
			require.Eventually(t, func() bool { return srv.UnfinishedBytes() == int64(i+1)<<21 }, 10*time.Second, 10*time.Millisecond,
				"publisher %d's 2 MiB not held; %d bytes", i, srv.UnfinishedBytes())
		} else {
			require.Eventually(t, func() bool { return len(rec.lines("rtmp connection dropped", nil)) == i-1 }, 10*time.Second, 10*time.Millisecond,
				"publisher %d not dropped; logs:\n%s", i, rec.dump())
		}
	}
	require.Eventually(t, func() bool { return len(rec.lines("rtmp connection dropped", nil)) >= 2 }, 10*time.Second, 20*time.Millisecond,
		"want two connections dropped for the budget; logs:\n%s", rec.dump())
	var paths []string
	for _, l := range rec.lines("rtmp connection dropped", nil) {
		require.Contains(t, l.Attrs["reason"], "server-wide budget for unfinished messages exhausted", rec.dump())
		paths = append(paths, l.Attrs["path"])
	}
	require.ElementsMatch(t, []string{"live/b2", "live/b3"}, paths, "dropped publishers")
	require.LessOrEqual(t, srv.UnfinishedBytes(), int64(5<<20))
	require.Equal(t, int64(4<<20), srv.UnfinishedBytes(), "the first two publishers' buffers")
}

// TestStalledMessageClosesThePublisher: an authorized publisher that leaves
// a message unfinished while it keeps the connection alive with small
// messages is closed after rtmp.message_timeout, with that reason.
func TestStalledMessageClosesThePublisher(t *testing.T) {
	rec := newLogRec()
	srv := &Server{Auth: &fakeAuth{}, Limits: rtmp.Limits{MessageTimeout: time.Second}}
	addr := startServerWith(t, srv, rec)
	c := dialRaw(t, addr)
	c.publish("live", "stall?key=k")
	c.startMessage(6, 100_000, rtmp.DefaultChunkSize)
	stop := make(chan struct{})
	defer close(stop)
	go c.trickle(200*time.Millisecond, stop)
	start := time.Now()
	require.Eventually(t, func() bool { return len(rec.lines("rtmp connection dropped", nil)) > 0 }, 10*time.Second, 20*time.Millisecond,
		"the stalled publisher was not dropped; logs:\n%s", rec.dump())
	l := rec.lines("rtmp connection dropped", nil)[0]
	require.Contains(t, l.Attrs["reason"], "message not completed in time")
	require.Equal(t, "live/stall", l.Attrs["path"])
	require.Less(t, time.Since(start), 5*time.Second)
	t.Logf("dropped after %s: %s", time.Since(start).Round(10*time.Millisecond), l.Attrs["reason"])
}

// TestChunkSizeBeforeConnectStillPublishes: encoders that set a chunk size
// (4096 or 65536) before connect, as some do, still publish big messages
// once authorized.
func TestChunkSizeBeforeConnectStillPublishes(t *testing.T) {
	rec := newLogRec()
	addr := startServerWith(t, &Server{Auth: &fakeAuth{}}, rec)
	for _, cs := range []uint32{4096, 64 << 10} {
		c := dialRawUnread(t, addr)
		c.msg(rtmp.SetChunkSizeMessage(cs), rtmp.DefaultChunkSize)
		c.connect("live")
		for _, cmd := range []*rtmp.Command{
			{Name: "createStream", TransactionID: 2},
			{Name: "publish", TransactionID: 3, Args: []any{fmt.Sprintf("cs%d?key=k", cs), "live"}},
		} {
			sid := uint32(0)
			if cmd.Name == "publish" {
				sid = 1
			}
			m, err := cmd.Message(3, sid)
			require.NoError(t, err)
			c.msg(m, cs)
		}
		c.msg(&rtmp.Message{Type: rtmp.MsgSharedObjectAMF0, ChunkStreamID: 6, StreamID: 1, Payload: make([]byte, 300<<10)}, cs)
		c.msg(rtmp.UserControl{Event: rtmp.UCPingRequest, Timestamp: 9}.Message(), cs)
		readUntil(t, c, func(m *rtmp.Message) bool {
			u, err := rtmp.ParseUserControl(m.Payload)
			return m.Type == rtmp.MsgUserControl && err == nil && u.Event == rtmp.UCPingResponse
		})
		require.Empty(t, rec.lines("rtmp connection dropped", nil), "chunk size %d: %s", cs, rec.dump())
	}
}
