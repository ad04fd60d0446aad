package rtmprelay

import (
	"context"
	"crypto/tls"
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

// Pusher publishes a hub stream to rtmp:// and rtmps:// targets (the URL's
// app and stream name, e.g. rtmp://a.rtmp.youtube.com/live2/KEY).
type Pusher struct {
	// TLS configures rtmps:// (nil: system roots).
	TLS *tls.Config
	// DialTimeout bounds connecting, the handshake and the publish
	// command. Default 10 s.
	DialTimeout time.Duration
	// WriteTimeout bounds each write: a target that stops reading fails
	// the attempt within it (the Manager reconnects), while its hub reader
	// lags without slowing anyone. Default 5 s.
	WriteTimeout time.Duration
}

var _ relay.Pusher = (*Pusher)(nil)

// Push implements relay.Pusher.
func (p *Pusher) Push(ctx context.Context, dst *url.URL, rd *hub.Reader, stats *relay.Stats, log *slog.Logger) error {
	dialTimeout, writeTimeout := p.DialTimeout, p.WriteTimeout
	if dialTimeout <= 0 {
		dialTimeout = defaultDialTimeout
	}
	if writeTimeout <= 0 {
		writeTimeout = defaultWrite
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := rtmp.Dial(dctx, dst.String(), p.TLS)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Publish(dctx); err != nil {
		return fmt.Errorf("rtmp: publish: %w", err)
	}
	ctx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	// The target's messages (acknowledgements, pings, an error status)
	// are read concurrently, so its socket never fills up with them.
	go func() {
		for {
			m, err := c.ReadMessage()
			if err != nil {
				cancelRun(fmt.Errorf("rtmp: target: %w", err))
				return
			}
			if err := playStatus(m); err != nil {
				cancelRun(err)
				return
			}
		}
	}()
	// FLV carries AAC (original or derived), MP3 and, with Enhanced RTMP,
	// Opus: the same preference as the RTMP server's viewers.
	rd.PreferAudio(av.CodecAAC, av.CodecMP3, av.CodecOpus)
	var lastVideo, lastAudio *av.Track
	buf := make([]*av.Packet, 0, 64)
	sentMeta := false
	for {
		batch, err := rd.Read(ctx, buf[:0])
		if err != nil {
			if c := context.Cause(ctx); c != nil && ctx.Err() != nil {
				return c
			}
			return err
		}
		if err := c.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return err
		}
		if !sentMeta {
			sentMeta = true
			video, audio := rd.Tracks()
			m := &rtmp.Message{Type: rtmp.MsgDataAMF0, Payload: append([]byte{}, flv.MetadataBody(video, audio)...)}
			if err := p.write(ctx, c, m, stats); err != nil {
				return err
			}
		}
		for _, pkt := range batch {
			last, typ := &lastAudio, uint8(rtmp.MsgAudio)
			if pkt.Kind() == av.KindVideo {
				last, typ = &lastVideo, rtmp.MsgVideo
			}
			if pkt.Track != *last {
				*last = pkt.Track
				if flv.HasSequenceHeader(pkt.Track) {
					m := &rtmp.Message{Type: typ, Timestamp: flv.TimestampMS(pkt.DTS), Payload: flv.AppendSequenceHeaderBody(nil, pkt.Track)}
					if err := p.write(ctx, c, m, stats); err != nil {
						return err
					}
				}
			}
			m := &rtmp.Message{Type: typ, Timestamp: flv.TimestampMS(pkt.DTS), Payload: flv.TagBody(flv.SharedTag(pkt))}
			if err := p.write(ctx, c, m, stats); err != nil {
				return err
			}
		}
		stats.Connected()
	}
}

func (p *Pusher) write(ctx context.Context, c *rtmp.Client, m *rtmp.Message, stats *relay.Stats) error {
	if err := c.WriteMessage(m); err != nil {
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			return cause
		}
		return fmt.Errorf("rtmp: write: %w", err)
	}
	stats.Bytes.Add(uint64(len(m.Payload)))
	return nil
}
