package netutil

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/obs"
)

// ConnLimiter caps the concurrent connections of one or more listeners
// (each wrapped by Listen), in total and per client IP address, and bounds
// every write on them (WriteTimeout). A connection over a cap is closed as
// soon as it is accepted: before any read, TLS handshake or goroutine of
// its own. What it refuses and what times out is counted (Stats) and logged,
// one line per kind per 10 s. Set the fields before the first Listen; safe
// for concurrent use after that.
type ConnLimiter struct {
	// Proto names the listeners in logs ("http"). Default "tcp".
	Proto string
	// MaxConns caps concurrent connections over every wrapped listener.
	// Default 0: no cap.
	MaxConns int
	// MaxConnsPerIP caps concurrent connections from one IP address.
	// Loopback clients are not counted against it: a reverse proxy on the
	// same host carries every viewer's connection. Default 0: no cap.
	MaxConnsPerIP int
	// WriteTimeout fails a connection's Write when the socket takes no
	// bytes for between WriteTimeout/2 and WriteTimeout (see limitConn). A
	// connection whose owner sets a write deadline itself (HTTP-FLV) is
	// left to it until it clears the deadline. Default 0: no timeout.
	WriteTimeout time.Duration
	// Logger receives the rate-limited log lines. Default slog.Default().
	Logger *slog.Logger

	mu    sync.Mutex
	open  int
	perIP map[netip.Addr]int

	refusedMax, refusedPerIP                   atomic.Uint64
	writeTimeouts, idleTimeouts, headerTimeout atomic.Uint64
	rate                                       obs.RateLimiter
}

// ConnStats are a ConnLimiter's counts since it was created.
type ConnStats struct {
	// Open is the connections open now.
	Open int
	// RefusedMax and RefusedPerIP count connections refused by MaxConns
	// and by MaxConnsPerIP.
	RefusedMax, RefusedPerIP uint64
	// WriteTimeouts counts writes failed by WriteTimeout.
	WriteTimeouts uint64
	// IdleTimeouts counts keep-alive connections closed idle by the
	// server's idle read deadline; HeaderTimeouts, connections that did not
	// send their request (headers, TLS handshake) before its read deadline.
	// Both are told apart by ConnState.
	IdleTimeouts, HeaderTimeouts uint64
}

// Stats returns the current counts.
func (l *ConnLimiter) Stats() ConnStats {
	l.mu.Lock()
	open := l.open
	l.mu.Unlock()
	return ConnStats{
		Open:       open,
		RefusedMax: l.refusedMax.Load(), RefusedPerIP: l.refusedPerIP.Load(),
		WriteTimeouts: l.writeTimeouts.Load(),
		IdleTimeouts:  l.idleTimeouts.Load(), HeaderTimeouts: l.headerTimeout.Load(),
	}
}

// Listen wraps ln: its connections count against l's caps and carry its
// write timeout.
func (l *ConnLimiter) Listen(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, l: l}
}

// ConnState is an http.Server.ConnState hook that lets the limiter tell an
// idle keep-alive timeout from a slow request (see ConnStats).
func (l *ConnLimiter) ConnState(c net.Conn, s http.ConnState) {
	lc, ok := unwrapped(c)
	if !ok {
		return
	}
	switch s {
	case http.StateIdle:
		lc.readSinceIdle.Store(false)
		lc.idle.Store(true)
	case http.StateActive:
		lc.idle.Store(false)
	}
}

func (l *ConnLimiter) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}

func (l *ConnLimiter) proto() string {
	if l.Proto != "" {
		return l.Proto
	}
	return "tcp"
}

// acquire takes a slot for a connection from ip (invalid when unknown) and
// returns "", or the name of the cap that refuses it.
func (l *ConnLimiter) acquire(ip netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.MaxConns > 0 && l.open >= l.MaxConns {
		return "max_connections"
	}
	if l.perIPCounted(ip) {
		if l.perIP[ip] >= l.MaxConnsPerIP {
			return "max_connections_per_ip"
		}
		if l.perIP == nil {
			l.perIP = make(map[netip.Addr]int)
		}
		l.perIP[ip]++ // one entry per address with an open connection
	}
	l.open++
	return ""
}

func (l *ConnLimiter) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perIPCounted(ip) {
		if l.perIP[ip]--; l.perIP[ip] <= 0 {
			delete(l.perIP, ip)
		}
	}
}

func (l *ConnLimiter) perIPCounted(ip netip.Addr) bool {
	return l.MaxConnsPerIP > 0 && ip.IsValid() && !ip.IsLoopback()
}

// refused counts and logs a connection turned away by cap.
func (l *ConnLimiter) refused(cap string, remote net.Addr) {
	limit := l.MaxConns
	if cap == "max_connections_per_ip" {
		l.refusedPerIP.Add(1)
		limit = l.MaxConnsPerIP
	} else {
		l.refusedMax.Add(1)
	}
	l.rate.Log(context.Background(), l.logger(), slog.LevelWarn, "refused:"+cap,
		l.proto()+" connection refused: too many connections", "proto", l.proto(),
		"remote", remote.String(), "reason", cap, "max", limit)
}

func (l *ConnLimiter) writeTimedOut(c *limitConn) {
	l.writeTimeouts.Add(1)
	l.rate.Log(context.Background(), l.logger(), slog.LevelWarn, "write-timeout",
		l.proto()+" connection dropped: client stopped reading", "proto", l.proto(),
		"remote", c.RemoteAddr().String(), "reason", "write timeout", "timeout", l.WriteTimeout.String())
}

// streamWriteTimedOut counts and logs an HTTP/2 stream cut off by the
// write timeout (see WriteMedia).
func (l *ConnLimiter) streamWriteTimedOut(remote string) {
	l.writeTimeouts.Add(1)
	l.rate.Log(context.Background(), l.logger(), slog.LevelWarn, "write-timeout",
		l.proto()+" stream reset: client stopped reading", "proto", l.proto(),
		"remote", remote, "reason", "write timeout", "timeout", l.WriteTimeout.String())
}

func (l *ConnLimiter) readTimedOut(c *limitConn) {
	if c.idle.Load() && !c.readSinceIdle.Load() {
		// A keep-alive connection idle for the idle timeout: routine.
		l.idleTimeouts.Add(1)
		return
	}
	l.headerTimeout.Add(1)
	l.rate.Log(context.Background(), l.logger(), slog.LevelInfo, "header-timeout",
		l.proto()+" connection dropped: request not sent in time", "proto", l.proto(),
		"remote", c.RemoteAddr().String(), "reason", "read header timeout")
}

// limitListener is a listener whose connections count against l.
type limitListener struct {
	net.Listener
	l *ConnLimiter
}

// Accept returns the next connection within the caps, closing the ones
// over them.
func (ln *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c.RemoteAddr())
		if cap := ln.l.acquire(ip); cap != "" {
			ln.l.refused(cap, c.RemoteAddr())
			if tc, ok := c.(*net.TCPConn); ok {
				// A reset, not a FIN: no TIME_WAIT socket is left behind
				// for every refused connection of a flood.
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
			continue
		}
		return &limitConn{Conn: c, l: ln.l, ip: ip}, nil
	}
}

// remoteIP is the IP address of a, invalid when a has none.
func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
