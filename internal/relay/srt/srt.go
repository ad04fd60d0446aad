// Package srtrelay is the relay client for srt:// URLs: a Puller that
// calls an SRT listener and publishes its MPEG-TS into the hub
// (paths.<path>.source: srt://…), and a Pusher that calls an SRT listener
// and sends it a hub stream as MPEG-TS (paths.*.forward: srt://…).
//
// The URL is srt://HOST:PORT?streamid=…&passphrase=…&latency=MS with
// srt-live-transmit's query keys as gosrt reads them (latency in
// milliseconds; mode=caller is implied, other modes are refused).
package srtrelay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync/atomic"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/mpegts"
	"github.com/sluicemedia/sluice/internal/relay"
)

// Defaults of Client.
const (
	// DefaultDialTimeout bounds the SRT handshake.
	DefaultDialTimeout = 5 * time.Second
	// DefaultIdleTimeout ends a pull that receives no media for this long.
	DefaultIdleTimeout = 10 * time.Second
)

// Client pulls from and pushes to SRT listeners. The zero value is usable.
type Client struct {
	// DialTimeout bounds the handshake. Default DefaultDialTimeout.
	DialTimeout time.Duration
	// IdleTimeout ends a pull whose source sends no media (or, until the
	// first program, no tracks) for this long. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxPESSize bounds one access unit of a pulled stream, in bytes.
	// Default mpegts.DefaultMaxPESSize.
	MaxPESSize int
}

var (
	_ relay.Puller = (*Client)(nil)
	_ relay.Pusher = (*Client)(nil)
)

// dial calls the listener of u.
func (c *Client) dial(ctx context.Context, u *url.URL) (gosrt.Conn, error) {
	if u.Scheme != "srt" {
		return nil, fmt.Errorf("srt: not an srt:// URL: %s", u.Redacted())
	}
	if m := u.Query().Get("mode"); m != "" && m != "caller" {
		return nil, fmt.Errorf("srt: mode=%s: only caller mode is supported", m)
	}
	cfg := gosrt.DefaultConfig()
	host, err := cfg.UnmarshalURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("srt: %s: %w", redact(u), err)
	}
	timeout := c.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	cfg.ConnectionTimeout = timeout
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := gosrt.DialWithContext(dctx, "srt", host, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("srt: connect %s: %w", redact(u), err)
	}
	return conn, nil
}

// redact drops the passphrase from u for errors and logs.
func redact(u *url.URL) string {
	q := u.Query()
	if q.Has("passphrase") {
		q.Set("passphrase", "xxxxx")
	}
	r := *u
	r.RawQuery = q.Encode()
	return r.Redacted()
}

// Pull calls src and publishes its MPEG-TS with pub until ctx ends
// (ctx.Err()), the source leaves (io.EOF) or fails.
func (c *Client) Pull(ctx context.Context, src *url.URL, pub *hub.Publisher, stats *relay.Stats, log *slog.Logger) error {
	conn, err := c.dial(ctx, src)
	if err != nil {
		return err
	}
	idle := c.IdleTimeout
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var why atomic.Pointer[string]
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				conn.Close()
				return
			case <-t.C:
				if time.Since(time.Unix(0, last.Load())) > idle {
					r := fmt.Sprintf("srt: no media from the source for %s", idle)
					why.Store(&r)
					conn.Close()
					return
				}
			}
		}
	}()
	r := &countingReader{r: conn, stats: stats, last: &last}
	sink := &pullSink{pub: pub, stats: stats}
	err = mpegts.Demux(r, sink, mpegts.DemuxOptions{Logger: log, MaxPESSize: c.MaxPESSize})
	cancel()
	switch {
	case why.Load() != nil:
		return errors.New(*why.Load())
	case parent.Err() != nil:
		return parent.Err()
	case err == nil, errors.Is(err, io.EOF):
		return fmt.Errorf("srt: source %s ended: %w", redact(src), io.EOF)
	}
	return fmt.Errorf("srt: pull from %s: %w", redact(src), err)
}

// pullSink publishes and marks the attempt connected at the first packet.
type pullSink struct {
	pub   *hub.Publisher
	stats *relay.Stats
	seen  bool
}

func (s *pullSink) Announce(v, a bool) { s.pub.Announce(v, a) }

func (s *pullSink) WritePacket(p *av.Packet) error {
	if !s.seen {
		s.seen = true
		s.stats.Connected()
	}
	return s.pub.WritePacket(p)
}

type countingReader struct {
	r     io.Reader
	stats *relay.Stats
	last  *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.stats.Bytes.Add(uint64(n))
		r.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// Push calls dst and sends it rd's stream as MPEG-TS until ctx ends
// (ctx.Err()), the stream ends (nil) or the target fails or leaves. SRT's
// send queue never blocks: a target that cannot keep up fails the push.
func (c *Client) Push(ctx context.Context, dst *url.URL, rd *hub.Reader, stats *relay.Stats, log *slog.Logger) error {
	conn, err := c.dial(ctx, dst)
	if err != nil {
		return err
	}
	defer conn.Close()
	stats.Connected()
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// The target sends only control packets; a read ending means it left.
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, err := conn.Read(buf); err != nil {
				cancel(fmt.Errorf("srt: target %s left: %w", redact(dst), err))
				return
			}
		}
	}()
	w := &countingWriter{w: conn, stats: stats}
	err = mpegts.Copy(pctx, rd, w, mpegts.CopyOptions{Logger: log})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.Canceled) {
		if cause := context.Cause(pctx); cause != nil {
			return cause
		}
	}
	if err != nil {
		return fmt.Errorf("srt: push to %s: %w", redact(dst), err)
	}
	return nil
}

type countingWriter struct {
	w     io.Writer
	stats *relay.Stats
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if n > 0 {
		w.stats.Bytes.Add(uint64(n))
	}
	return n, err
}
