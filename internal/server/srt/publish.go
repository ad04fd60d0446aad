package srtserver

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/mpegts"
)

// publish claims path (a busy path is rejected at handshake), accepts the
// caller and demuxes its MPEG-TS into the hub until it leaves.
func (c *conn) publish(ctx context.Context, path string, areq auth.Request, accepted func()) {
	s := c.srv
	pub, err := s.Hub.Publish(path, hub.ClientInfo{Protocol: Proto, Remote: c.remote})
	if err != nil {
		if errors.Is(err, hub.ErrBusy) {
			s.refuse(c, gosrt.REJX_CONFLICT, "", "stream "+path+" is already being published", slog.LevelWarn)
		} else {
			s.refuse(c, gosrt.REJX_ISE, "", err.Error(), slog.LevelWarn)
		}
		return
	}
	if !c.accept() {
		pub.Close("srt handshake failed")
		return
	}
	accepted()
	s.stats.publishers.Add(1)
	defer s.stats.publishers.Add(-1)
	if s.Auth != nil {
		defer s.Auth.Ended(areq)
	}
	c.log.Debug("srt publish started") // the hub logs "publish started"

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var last atomic.Int64 // unix nanos of the last media read
	last.Store(start.UnixNano())
	sink := &publishSink{pub: pub}
	go func() {
		select {
		case <-pub.Done():
			c.fail("stream ended by the server")
		case <-ctx.Done():
		}
	}()
	go c.watch(ctx, func(now time.Time) string {
		if !sink.announced.Load() && now.Sub(start) > s.HandshakeTimeout {
			return timeoutf("handshake: no MPEG-TS program within %s", s.HandshakeTimeout)
		}
		if now.Sub(time.Unix(0, last.Load())) > s.IdleTimeout {
			return timeoutf("idle: no media for %s", s.IdleTimeout)
		}
		return ""
	})
	r := &mediaReader{sc: c.sc, last: &last}
	err = mpegts.Demux(r, sink, mpegts.DemuxOptions{Logger: c.log, MaxPESSize: s.MaxPESSize})
	reason, fault := c.endReason(err)
	pub.Close(reason)
	c.close()
	if fault {
		c.log.Warn("srt connection dropped", "reason", reason)
	} else {
		// The hub's "publish stopped" line is the event's.
		c.log.Debug("srt publish ended", "reason", reason)
	}
}

// publishSink is the hub publisher, noting when the tracks are known.
type publishSink struct {
	pub       *hub.Publisher
	announced atomic.Bool
}

func (p *publishSink) Announce(v, a bool) {
	p.announced.Store(true)
	p.pub.Announce(v, a)
}

func (p *publishSink) WritePacket(pkt *av.Packet) error { return p.pub.WritePacket(pkt) }

// mediaReader reads the caller's payload, stamping when media last came.
type mediaReader struct {
	sc   gosrt.Conn
	last *atomic.Int64
}

func (r *mediaReader) Read(p []byte) (int, error) {
	n, err := r.sc.Read(p)
	if n > 0 {
		r.last.Store(time.Now().UnixNano())
	}
	return n, err
}
