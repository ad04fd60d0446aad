package netutil

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// writePiece is the most one Write hands the socket under one deadline
// renewal: a large segment is written in pieces, so a client that keeps
// reading is not cut off however slowly it reads the whole (it must take
// 64 KiB per write_timeout/2: 13 KiB/s at 10 s), while one that stops is.
const writePiece = 64 << 10

// limitConn is a connection accepted by a ConnLimiter's listener. Close
// gives its slot back. Unless its owner sets a write deadline itself, every
// Write runs under a deadline WriteTimeout ahead, renewed at most once per
// WriteTimeout/2 (see WriteDeadline) and per piece of writePiece bytes: a
// Write fails once the socket has taken nothing for WriteTimeout/2 to
// WriteTimeout, whatever the wait between writes (blocking playlist
// reloads wait without writing).
type limitConn struct {
	net.Conn
	l  *ConnLimiter
	ip netip.Addr

	closeOnce sync.Once
	// renewAt is when, in Unix nanoseconds, the write deadline is next
	// renewed; 0: no deadline armed.
	renewAt atomic.Int64
	// manual: the owner set a write deadline of its own (HTTP-FLV,
	// http.ResponseController); Write leaves deadlines alone until it
	// clears it (net/http does after every response).
	manual atomic.Bool
	// readAbort: the read deadline in force was set in the past to wake a
	// pending read (net/http does), so a timeout is no client's fault.
	readAbort atomic.Bool
	// readTimedOut: a read timeout was counted (once per connection).
	readTimedOut atomic.Bool
	// idle and readSinceIdle tell an idle keep-alive timeout from a slow
	// request (ConnLimiter.ConnState).
	idle, readSinceIdle atomic.Bool
}

// Write writes p under the connection's write timeout.
func (c *limitConn) Write(p []byte) (int, error) {
	timeout := c.l.WriteTimeout
	if timeout <= 0 {
		return c.Conn.Write(p)
	}
	n := 0
	for {
		piece := p[n:]
		auto := !c.manual.Load()
		if auto {
			if len(piece) > writePiece {
				piece = piece[:writePiece]
			}
			if err := c.extend(timeout); err != nil {
				return n, err
			}
		}
		m, err := c.Conn.Write(piece)
		n += m
		if err != nil {
			if auto && errors.Is(err, os.ErrDeadlineExceeded) {
				c.l.writeTimedOut(c)
				if tc, ok := c.Conn.(*net.TCPConn); ok {
					// The close that follows resets: what the client
					// did not read is dropped, not kept by the kernel
					// (up to the send buffer, MiBs, per connection)
					// while it goes on probing a zero window.
					_ = tc.SetLinger(0)
				}
			}
			return n, err
		}
		if n >= len(p) {
			return n, nil
		}
	}
}

// extend renews the write deadline if due.
func (c *limitConn) extend(timeout time.Duration) error {
	now := time.Now()
	if now.UnixNano() < c.renewAt.Load() {
		return nil
	}
	c.renewAt.Store(now.Add(timeout / 2).UnixNano())
	return c.Conn.SetWriteDeadline(now.Add(timeout))
}

// SetWriteDeadline hands write deadlines to the caller (t set) or back to
// the limiter (t zero).
func (c *limitConn) SetWriteDeadline(t time.Time) error {
	c.renewAt.Store(0)
	c.manual.Store(!t.IsZero())
	return c.Conn.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline, noting whether it is an abort.
func (c *limitConn) SetReadDeadline(t time.Time) error {
	c.readAbort.Store(!t.IsZero() && !t.After(time.Now()))
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines, as SetReadDeadline and SetWriteDeadline.
func (c *limitConn) SetDeadline(t time.Time) error {
	c.readAbort.Store(!t.IsZero() && !t.After(time.Now()))
	c.renewAt.Store(0)
	c.manual.Store(!t.IsZero())
	return c.Conn.SetDeadline(t)
}

// Read reads, counting a read deadline that fires as a timeout.
func (c *limitConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.readSinceIdle.Store(true)
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && !c.readAbort.Load() && c.readTimedOut.CompareAndSwap(false, true) {
		c.l.readTimedOut(c)
	}
	return n, err
}

// Close closes the connection and gives its slot back (once).
func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.l.release(c.ip) })
	return err
}

// SyscallConn passes the socket through, so that a TryWriter can write to
// it directly (package fanout).
func (c *limitConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("netutil: connection has no file descriptor")
	}
	return sc.SyscallConn()
}

// NetConn returns the wrapped connection, as tls.Conn's NetConn does.
func (c *limitConn) NetConn() net.Conn { return c.Conn }

// Unwrap returns the socket under a connection a ConnLimiter accepted, for
// writers that need the *net.TCPConn itself (net.Buffers' writev); any
// other connection is returned as is. Close the connection itself, not the
// result: that gives its slot back.
func Unwrap(c net.Conn) net.Conn {
	if lc, ok := c.(*limitConn); ok {
		return lc.Conn
	}
	return c
}

// unwrapped finds the limitConn under c, looking through TLS.
func unwrapped(c net.Conn) (*limitConn, bool) {
	for range 4 {
		switch v := c.(type) {
		case *limitConn:
			return v, true
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil, false
		}
	}
	return nil, false
}
