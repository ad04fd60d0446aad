// Package rtmpserver is Sluice's RTMP and RTMPS listener: publishing sessions
// write into the hub, playing sessions read from it. The wire protocol lives
// in internal/rtmp; this package holds the session logic.
package rtmpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/fanout"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/rtmp"
)

// Authorizer decides whether a client may publish or play a path, and is
// told when an allowed client leaves. *auth.Authorizer implements it.
type Authorizer interface {
	// Authorize returns nil to allow req, or an error wrapping
	// auth.ErrUnauthorized or auth.ErrForbidden with the reason.
	Authorize(ctx context.Context, req auth.Request) error
	// Ended reports that the client of an allowed req has left; it must
	// not block.
	Ended(req auth.Request)
}

var _ Authorizer = (*auth.Authorizer)(nil)

// DefaultUnfinishedBudget is Server.UnfinishedBudget's default: 256 MiB.
const DefaultUnfinishedBudget = 256 << 20

// Server accepts RTMP connections on one or more listeners. Fill the exported
// fields, then call Serve for each listener; Close stops everything.
type Server struct {
	// Hub is where published streams go and played streams come from.
	Hub *hub.Hub
	// ChunkSize is the outgoing chunk size announced to every client
	// (bytes). Default 4096.
	ChunkSize uint32
	// HandshakeTimeout bounds the handshake and the connect command.
	// Default 10 s.
	HandshakeTimeout time.Duration
	// IdleTimeout drops a publisher that sends nothing, or a client that
	// never publishes nor plays, for this long. Default 30 s.
	IdleTimeout time.Duration
	// WriteTimeout drops a viewer whose socket accepts nothing for this
	// long. Default 5 s.
	WriteTimeout time.Duration
	// Limits bound what a peer may make us allocate (per connection; its
	// Budget is replaced by the server's own, see UnfinishedBudget).
	Limits rtmp.Limits
	// UnfinishedBudget bounds the partially received messages of all
	// connections together, in bytes; a connection that would exceed it is
	// closed with a log line. Default 256 MiB.
	UnfinishedBudget int64
	// MaxConnections caps concurrent connections (default 4096); further
	// connections are closed at once with a log line.
	MaxConnections int
	// Logger receives connection logs. Default slog.Default().
	Logger *slog.Logger
	// Auth is asked before every publish and play (the stream key's ?key=
	// or ?token= is the credential). Default nil: everyone is allowed.
	Auth Authorizer

	initOnce sync.Once
	ctx      context.Context
	cancel   context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup

	budget *rtmp.Budget // shared by every connection's ChunkReader

	// groups are the fan-out groups writing for this server's viewers
	// (their shared chunks are cut at ChunkSize).
	groups fanout.Groups
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.ChunkSize == 0 {
			s.ChunkSize = 4096
		}
		if s.HandshakeTimeout <= 0 {
			s.HandshakeTimeout = 10 * time.Second
		}
		if s.IdleTimeout <= 0 {
			s.IdleTimeout = 30 * time.Second
		}
		if s.WriteTimeout <= 0 {
			s.WriteTimeout = 5 * time.Second
		}
		if s.Limits == (rtmp.Limits{}) {
			s.Limits = rtmp.DefaultLimits()
		}
		if s.UnfinishedBudget <= 0 {
			s.UnfinishedBudget = DefaultUnfinishedBudget
		}
		s.budget = rtmp.NewBudget(s.UnfinishedBudget)
		if s.MaxConnections <= 0 {
			s.MaxConnections = 4096
		}
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
	})
}

// Serve accepts connections on ln until Close. proto names the listener in
// logs and the API ("rtmp" or "rtmps"); a TLS listener is expected to be
// wrapped already (tls.NewListener).
func (s *Server) Serve(ln net.Listener, proto string) error {
	s.init()
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Temporary errors (EMFILE...): back off instead of spinning.
			backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
			s.Logger.Warn("rtmp accept failed", "proto", proto, "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := &conn{srv: s, nc: nc, proto: proto}
		if !s.track(c) {
			s.Logger.Warn("rtmp connection refused: too many connections", "proto", proto,
				"remote", nc.RemoteAddr().String(), "max", s.MaxConnections)
			nc.Close()
			continue
		}
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			c.serve(s.ctx)
		}()
	}
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) >= s.MaxConnections || s.ctx.Err() != nil {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// UnfinishedBytes returns the bytes all connections hold for partially
// received messages (at most UnfinishedBudget).
func (s *Server) UnfinishedBytes() int64 {
	s.init()
	return s.budget.Used()
}

// Close stops the listeners, ends every connection and waits for their
// goroutines.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.cancel()
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// ListenTLS is a helper for RTMPS: a TLS listener on addr.
func ListenTLS(addr string, cfg *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return tls.NewListener(ln, cfg), nil
}
