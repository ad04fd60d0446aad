package srtserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/hub"
)

// subscribeWait bounds how long a reader's handshake waits for a stream
// that exists but has not announced its tracks: callers give up on a
// handshake after libsrt's 3 s connect timeout.
const subscribeWait = 2 * time.Second

// conn is one SRT caller, from its handshake to its end.
type conn struct {
	srv    *Server
	req    gosrt.ConnRequest
	remote string
	log    *slog.Logger

	mu     sync.Mutex
	sc     gosrt.Conn // set once the handshake is accepted
	closed bool
	// reason is why the server closed sc (a timeout, a kick), so the
	// session's end is logged as what happened.
	reason atomic.Pointer[string]
}

// close ends the connection (Server.Close, kicks, timeouts).
func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	if c.sc != nil {
		c.sc.Close()
	}
	c.mu.Unlock()
}

// fail closes the connection for reason, unless a reason is set already.
func (c *conn) fail(reason string) {
	c.reason.CompareAndSwap(nil, &reason)
	c.close()
}

// accept completes the handshake; false when it failed or the server is
// stopping (logged).
func (c *conn) accept() bool {
	sc, err := c.req.Accept()
	if err != nil {
		c.log.Warn("srt handshake failed", "reason", err.Error())
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sc = sc
	if c.closed {
		sc.Close()
		return false
	}
	return true
}

func (c *conn) serve(ctx context.Context) {
	s := c.srv
	s.stats.handshakes.Add(1)
	inHandshake := true
	defer func() {
		if inHandshake {
			s.stats.handshakes.Add(-1)
		}
	}()
	sid, err := ParseStreamID(c.req.StreamId())
	if err != nil {
		s.refuse(c, gosrt.REJX_BAD_REQUEST, "", err.Error(), slog.LevelWarn)
		return
	}
	c.log = c.log.With("path", sid.Path, "mode", sid.Mode.String())
	if !c.checkPassphrase(sid.Path) {
		return
	}
	action := auth.Play
	if sid.Mode == ModePublish {
		action = auth.Publish
	}
	areq := auth.Request{Action: action, Path: sid.Path, Protocol: Proto, Remote: c.remote,
		Token: auth.TokenFromQuery(sid.Query), Query: sid.Query}
	if s.Auth != nil {
		if err := s.Auth.Authorize(ctx, areq); err != nil {
			code := gosrt.REJX_FORBIDDEN
			if errors.Is(err, auth.ErrUnauthorized) {
				code = gosrt.REJX_UNAUTHORIZED
			}
			s.refuse(c, code, "", string(action)+" denied: "+err.Error(), slog.LevelWarn)
			return
		}
	}
	if sid.Mode == ModePublish {
		c.publish(ctx, sid.Path, areq, func() { inHandshake = false; s.stats.handshakes.Add(-1) })
	} else {
		c.read(ctx, sid.Path, areq, func() { inHandshake = false; s.stats.handshakes.Add(-1) })
	}
}

// checkPassphrase applies the path's srt_passphrase: a path with one
// takes only callers encrypting with it, a path without one only
// unencrypted callers. It logs and rejects otherwise.
func (c *conn) checkPassphrase(path string) bool {
	pass := c.srv.Passphrase(path)
	switch {
	case pass == "" && c.req.IsEncrypted():
		c.srv.refuse(c, gosrt.REJ_UNSECURE, "", "caller encrypts but the path has no srt_passphrase", slog.LevelWarn)
		return false
	case pass == "":
		return true
	case !c.req.IsEncrypted():
		c.srv.refuse(c, gosrt.REJ_UNSECURE, "", "the path needs a passphrase and the caller does not encrypt", slog.LevelWarn)
		return false
	}
	if err := c.req.SetPassphrase(pass); err != nil {
		c.srv.refuse(c, gosrt.REJ_BADSECRET, "", "wrong passphrase", slog.LevelWarn)
		return false
	}
	return true
}

// endReason describes how a session ended, preferring the reason the
// server recorded when it closed the connection itself.
func (c *conn) endReason(err error) (reason string, fault bool) {
	if r := c.reason.Load(); r != nil {
		return *r, true
	}
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, hub.ErrEnded):
		return "peer left", false
	case errors.Is(err, context.Canceled):
		return "server stopping", false
	}
	return err.Error(), true
}

// watch closes the connection when the deadline check fails; it returns
// when ctx ends.
func (c *conn) watch(ctx context.Context, check func(now time.Time) string) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if why := check(now); why != "" {
				c.fail(why)
				return
			}
		}
	}
}

// timeoutf formats a timeout reason.
func timeoutf(format string, d time.Duration) string { return fmt.Sprintf(format, d) }
