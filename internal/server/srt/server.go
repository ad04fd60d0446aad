// Package srtserver is Sluice's SRT listener: callers publish MPEG-TS into
// the hub or read a hub stream as MPEG-TS, the path and mode named by the
// handshake's streamid (streamid.go). Access is decided at handshake — the
// streamid, the path's passphrase, the keys/JWT/hooks of internal/auth, a
// busy path — so a refused caller never gets a connection.
package srtserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/hub"
)

// Proto names SRT clients in logs, the API and metrics.
const Proto = "srt"

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

// Server accepts SRT callers on one listener. Fill the exported fields,
// call Listen, then Serve; Close stops everything.
type Server struct {
	// Hub is where published streams go and read streams come from.
	Hub *hub.Hub
	// Latency is the SRT latency asked for in both directions (the larger
	// of it and the caller's applies). Default 120 ms.
	Latency time.Duration
	// HandshakeTimeout drops a publisher whose program (tracks) has not
	// arrived this long after the handshake. Default 10 s.
	HandshakeTimeout time.Duration
	// IdleTimeout drops a publisher that sends no media for this long.
	// Default 30 s.
	IdleTimeout time.Duration
	// MaxConnections caps concurrent connections and handshakes under way.
	// Default 1000.
	MaxConnections int
	// MaxPESSize bounds one access unit of a publisher, in bytes. Default
	// 8 MiB.
	MaxPESSize int
	// Passphrase returns the passphrase of a path ("" for none). Default
	// nil: no path has one.
	Passphrase func(path string) string
	// Auth is asked before every publish and read (the streamid's key or
	// token is the credential). Default nil: everyone is allowed.
	Auth Authorizer
	// Logger receives connection logs. Default slog.Default().
	Logger *slog.Logger

	initOnce sync.Once
	ctx      context.Context
	cancel   context.CancelFunc
	ln       gosrt.Listener

	mu    sync.Mutex
	conns map[*conn]struct{}
	wg    sync.WaitGroup

	stats counters
}

// counters are the server's metrics.
type counters struct {
	handshakes, publishers, readers atomic.Int64
	refused                         sync.Map // reason → *atomic.Uint64
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.Latency <= 0 {
			s.Latency = 120 * time.Millisecond
		}
		if s.HandshakeTimeout <= 0 {
			s.HandshakeTimeout = 10 * time.Second
		}
		if s.IdleTimeout <= 0 {
			s.IdleTimeout = 30 * time.Second
		}
		if s.MaxConnections <= 0 {
			s.MaxConnections = 1000
		}
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
		if s.Passphrase == nil {
			s.Passphrase = func(string) string { return "" }
		}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.conns = make(map[*conn]struct{})
	})
}

// Config returns the gosrt configuration the server listens with.
func (s *Server) Config() gosrt.Config {
	s.init()
	c := gosrt.DefaultConfig()
	c.ReceiverLatency = s.Latency
	c.PeerLatency = s.Latency
	return c
}

// Listen binds the UDP address addr.
func (s *Server) Listen(addr string) error {
	s.init()
	ln, err := gosrt.Listen("srt", addr, s.Config())
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address (nil before Listen).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve answers handshakes until Close.
func (s *Server) Serve() error {
	s.init()
	var backoff time.Duration
	for {
		req, err := s.ln.Accept2()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, gosrt.ErrListenerClosed) {
				return nil
			}
			backoff = min(max(backoff*2, 5*time.Millisecond), time.Second)
			s.Logger.Warn("srt accept failed", "proto", Proto, "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := &conn{srv: s, req: req, remote: req.RemoteAddr().String()}
		c.log = s.Logger.With("proto", Proto, "remote", c.remote)
		if !s.track(c) {
			s.refuse(c, gosrt.REJX_OVERLOAD, "", "too many connections", slog.LevelWarn, "max", s.MaxConnections)
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

// refuse rejects a handshake with reason code, logging one line.
func (s *Server) refuse(c *conn, code gosrt.RejectionReason, path, why string, level slog.Level, kv ...any) {
	// Count and log before rejecting, so a caller that sees the rejection
	// also finds it in the metrics.
	args := []any{"reason", why}
	if path != "" {
		args = append(args, "path", path)
	}
	c.log.Log(context.Background(), level, "srt connection refused", append(args, kv...)...)
	s.countRefused(refuseLabel(code))
	c.req.Reject(code)
}

func (s *Server) countRefused(label string) {
	v, _ := s.stats.refused.LoadOrStore(label, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}

// refuseLabel is the metrics label of a rejection code.
func refuseLabel(code gosrt.RejectionReason) string {
	switch code {
	case gosrt.REJX_OVERLOAD:
		return "overload"
	case gosrt.REJX_BAD_REQUEST:
		return "bad_streamid"
	case gosrt.REJ_BADSECRET, gosrt.REJ_UNSECURE:
		return "passphrase"
	case gosrt.REJX_UNAUTHORIZED, gosrt.REJX_FORBIDDEN:
		return "auth"
	case gosrt.REJX_CONFLICT:
		return "busy"
	case gosrt.REJX_NOTFOUND:
		return "not_found"
	}
	return "other"
}

// Stats is a snapshot of the server for metrics.
type Stats struct {
	// Handshakes, Publishers and Readers count connections by phase.
	Handshakes, Publishers, Readers int
	// Refused counts rejected handshakes by reason: overload,
	// bad_streamid, passphrase, auth, busy, not_found, other.
	Refused map[string]uint64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.init()
	st := Stats{
		Handshakes: int(s.stats.handshakes.Load()),
		Publishers: int(s.stats.publishers.Load()),
		Readers:    int(s.stats.readers.Load()),
		Refused:    map[string]uint64{},
	}
	s.stats.refused.Range(func(k, v any) bool {
		st.Refused[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return st
}

// Close stops the listener, ends every connection and waits for their
// goroutines.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.cancel()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	return nil
}
