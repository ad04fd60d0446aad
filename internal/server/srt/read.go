package srtserver

import (
	"context"
	"errors"
	"log/slog"

	gosrt "github.com/datarhei/gosrt"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/mpegts"
)

// read subscribes to path (nothing published there is rejected at
// handshake), accepts the caller and sends it the stream as MPEG-TS from
// the GOP cache's keyframe on.
func (c *conn) read(ctx context.Context, path string, areq auth.Request, accepted func()) {
	s := c.srv
	sctx, cancel := context.WithTimeout(ctx, subscribeWait)
	// An on-demand source starts with its first viewer, SRT ones too; the
	// caller's handshake waits for it within subscribeWait. If it cannot
	// start, Subscribe answers as before.
	_ = s.Hub.Demand(sctx, path)
	rd, err := s.Hub.Subscribe(sctx, path, hub.ClientInfo{Protocol: Proto, Remote: c.remote})
	cancel()
	if err != nil {
		switch {
		case errors.Is(err, hub.ErrNotFound), errors.Is(err, hub.ErrNotReady), errors.Is(err, context.DeadlineExceeded):
			s.refuse(c, gosrt.REJX_NOTFOUND, "", "no stream is published at "+path, slog.LevelInfo)
		default:
			s.refuse(c, gosrt.REJX_ISE, "", err.Error(), slog.LevelWarn)
		}
		return
	}
	defer rd.Close()
	// MPEG-TS carries all three; AAC first, what every TS receiver plays.
	rd.PreferAudio(av.CodecAAC, av.CodecMP3, av.CodecOpus)
	if !c.accept() {
		return
	}
	accepted()
	s.stats.readers.Add(1)
	defer s.stats.readers.Add(-1)
	if s.Auth != nil {
		defer s.Auth.Ended(areq)
	}
	c.log.Debug("srt read started")

	ctx, cancel = context.WithCancel(ctx)
	defer cancel()
	// The caller sends nothing but control packets; a read ending means it
	// left (shutdown, or SRT's peer idle timeout).
	go func() {
		defer cancel()
		buf := make([]byte, 1500)
		for {
			if _, err := c.sc.Read(buf); err != nil {
				return
			}
		}
	}()
	err = mpegts.Copy(ctx, rd, c.sc, mpegts.CopyOptions{Logger: c.log})
	c.close()
	reason, fault := c.endReason(err)
	switch {
	case errors.Is(err, hub.ErrKicked):
		reason, fault = "kicked", false
	case errors.Is(err, context.Canceled) && ctx.Err() != nil && c.srv.ctx.Err() == nil:
		reason, fault = "peer left", false
	case errors.Is(err, hub.ErrLagging):
		fault = true
	}
	switch {
	case fault:
		c.log.Warn("srt connection dropped", "reason", reason)
	case reason == "peer left":
		c.log.Debug("srt read ended", "reason", reason)
	default:
		c.log.Info("srt read ended", "reason", reason)
	}
}
