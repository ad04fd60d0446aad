// Package rtmprelay pulls streams over RTMP, RTMPS and HTTP-FLV into the
// hub and pushes hub streams to RTMP/RTMPS servers, for relay.Manager
// (paths.<path>.source, paths.*.forward). Legacy and Enhanced RTMP
// (H.264, H.265, AV1, AAC, Opus, MP3) are carried both ways: the tags go
// through flv.Ingest in, and flv's shared tags out.
package rtmprelay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/relay"
	"github.com/sluicemedia/sluice/internal/rtmp"
)

// Defaults of Puller and Pusher.
const (
	defaultDialTimeout = 10 * time.Second
	defaultReadTimeout = 10 * time.Second
	defaultWrite       = 5 * time.Second
)

// Puller pulls rtmp://, rtmps:// (the internal/rtmp client, playing the
// URL's app and stream name) and http(s)://….flv (HTTP-FLV) sources.
type Puller struct {
	// TLS configures rtmps:// and https:// (nil: system roots).
	TLS *tls.Config
	// DialTimeout bounds connecting, the handshake and the play command.
	// Default 10 s.
	DialTimeout time.Duration
	// ReadTimeout ends an attempt that received nothing for that long (a
	// source whose publisher is gone, e.g. nginx-rtmp waiting for one).
	// Default 10 s.
	ReadTimeout time.Duration
}

var _ relay.Puller = (*Puller)(nil)

// Register registers p for rtmp, rtmps, http and https sources and a
// Pusher for rtmp and rtmps targets.
func Register(r *relay.Registry, p *Puller, pu *Pusher) {
	r.RegisterPuller(p, "rtmp", "rtmps", "http", "https")
	r.RegisterPusher(pu, "rtmp", "rtmps")
}

func (p *Puller) dialTimeout() time.Duration {
	if p.DialTimeout > 0 {
		return p.DialTimeout
	}
	return defaultDialTimeout
}

func (p *Puller) readTimeout() time.Duration {
	if p.ReadTimeout > 0 {
		return p.ReadTimeout
	}
	return defaultReadTimeout
}

// Pull implements relay.Puller.
func (p *Puller) Pull(ctx context.Context, src *url.URL, pub *hub.Publisher, stats *relay.Stats, log *slog.Logger) error {
	switch src.Scheme {
	case "rtmp", "rtmps":
		return p.pullRTMP(ctx, src, pub, stats, log)
	case "http", "https":
		return p.pullFLV(ctx, src, pub, stats, log)
	}
	return fmt.Errorf("rtmprelay: unsupported scheme %q", src.Scheme)
}

// sink passes packets to the publisher and marks the attempt established
// at its first packet.
type sink struct {
	pub   *hub.Publisher
	stats *relay.Stats
	live  bool
}

func (s *sink) Announce(hasVideo, hasAudio bool) { s.pub.Announce(hasVideo, hasAudio) }

func (s *sink) WritePacket(pkt *av.Packet) error {
	if !s.live {
		s.live = true
		s.stats.Connected()
	}
	return s.pub.WritePacket(pkt)
}

func (p *Puller) pullRTMP(ctx context.Context, src *url.URL, pub *hub.Publisher, stats *relay.Stats, log *slog.Logger) error {
	dctx, cancel := context.WithTimeout(ctx, p.dialTimeout())
	defer cancel()
	c, err := rtmp.Dial(dctx, src.String(), p.TLS)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Play(dctx); err != nil {
		return fmt.Errorf("rtmp: play: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	in := flv.Ingest{Sink: &sink{pub: pub, stats: stats}, Clock: &rtmp.Timeline{}, Log: log}
	read := c.Conn().BytesRead()
	var deadlineAt time.Time
	for {
		if now := time.Now(); now.Sub(deadlineAt) > time.Second {
			deadlineAt = now // renewed at most once a second: not per message
			if err := c.SetDeadline(now.Add(p.readTimeout())); err != nil {
				return err
			}
		}
		m, err := c.ReadMessage()
		if n := c.Conn().BytesRead(); n > read {
			stats.Bytes.Add(n - read)
			read = n
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("rtmp: read: %w", err)
		}
		switch m.Type {
		case rtmp.MsgAudio, rtmp.MsgVideo:
			err = in.Tag(m.Type, m.Timestamp, m.Payload)
		case rtmp.MsgAggregate:
			err = in.Aggregate(m.Timestamp, m.Payload)
		case rtmp.MsgDataAMF0, rtmp.MsgDataAMF3:
			if vals, derr := rtmp.ParseData(m); derr == nil {
				in.Metadata(vals)
			}
		case rtmp.MsgCommandAMF0, rtmp.MsgCommandAMF3:
			err = playStatus(m)
		}
		if err != nil {
			return err
		}
	}
}

// playStatus turns the end of the source's stream (its publisher left)
// into an error, so the Manager reconnects.
func playStatus(m *rtmp.Message) error {
	cmd, err := rtmp.ParseCommand(m)
	if err != nil || cmd.Name != "onStatus" {
		return nil
	}
	info := cmd.ArgObject(0)
	code, level := info.String("code"), info.String("level")
	switch {
	case code == "NetStream.Play.UnpublishNotify", code == "NetStream.Play.Stop", code == "NetStream.Play.Complete":
		return errors.New("rtmp: source stream ended (" + code + ")")
	case level == "error":
		return errors.New("rtmp: source error (" + code + ")")
	}
	return nil
}
