// Package flvserver serves live streams as HTTP-FLV (chunked transfer) and
// WebSocket-FLV (binary messages carrying the same FLV byte stream, as
// mpegts.js expects). HTTP/1.1 viewers on plain TCP are written by fan-out
// groups (package fanout) while they keep up; WebSocket, HTTP/2 and TLS
// viewers have a goroutine each.
package flvserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/fanout"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
)

// Server answers GET requests for /APP/NAME.flv. Fill the exported fields
// and route requests to ServeStream once they are authorized (the HTTP
// stream router of internal/app decides access and, for WebSocket, the
// origin; it also sets the CORS headers).
type Server struct {
	// Hub is where streams are read from.
	Hub *hub.Hub
	// WriteTimeout drops a viewer whose connection accepts nothing for this
	// long. Default 5 s.
	WriteTimeout time.Duration
	// Logger receives viewer logs. Default slog.Default().
	Logger *slog.Logger

	// groups are the fan-out groups writing for HTTP/1.1 viewers.
	groups fanout.Groups
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout > 0 {
		return s.WriteTimeout
	}
	return 5 * time.Second
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// IsWebSocket reports whether r asks for a WebSocket upgrade (WS-FLV;
// RFC 6455 §4.1 "Upgrade: websocket", among other protocols perhaps).
// The router uses it too, to check the origin of exactly these requests.
func IsWebSocket(r *http.Request) bool {
	for _, v := range strings.Split(r.Header.Get("Upgrade"), ",") {
		if strings.EqualFold(strings.TrimSpace(v), "websocket") {
			return true
		}
	}
	return false
}

// ServeStream plays the stream at path (already validated) to the client
// allowed by g, over WebSocket when the request is an upgrade, else as
// HTTP-FLV; g is ended when the viewer leaves.
func (s *Server) ServeStream(w http.ResponseWriter, r *http.Request, path string, g auth.Grant) {
	proto := "http-flv"
	isWS := IsWebSocket(r)
	if isWS {
		proto = "ws-flv"
	}
	log := s.logger().With("proto", proto, "remote", r.RemoteAddr, "path", path)
	reader, err := s.Hub.Subscribe(r.Context(), path, hub.ClientInfo{Protocol: proto, Remote: r.RemoteAddr})
	if err != nil {
		status := http.StatusServiceUnavailable
		if errors.Is(err, hub.ErrNotFound) || errors.Is(err, hub.ErrNotReady) || errors.Is(err, hub.ErrEnded) {
			status = http.StatusNotFound
		}
		log.Info("flv play refused", "reason", err.Error())
		http.Error(w, "stream "+path+" is not published", status)
		return
	}
	defer reader.Close()
	// FLV carries AAC everywhere; Opus (Enhanced RTMP) only where the
	// stream has no AAC, original or derived; MP3 as the publisher sent it,
	// before Opus: an MP3 stream's derived Opus (for WebRTC viewers, on
	// demand) must not switch these viewers' codec mid-stream.
	reader.PreferAudio(av.CodecAAC, av.CodecMP3, av.CodecOpus)
	defer g.Ended()

	var sink sink
	if isWS {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
			// The router has checked the Origin against
			// http.allowed_origins (RFC 6455 §10.2) already.
			InsecureSkipVerify: true,
			CompressionMode:    websocket.CompressionDisabled,
		})
		if err != nil {
			log.Info("ws-flv upgrade failed", "reason", err.Error())
			return
		}
		sink = newWSSink(ws)
	} else {
		sink, err = newHTTPSink(w, r)
		if err != nil {
			log.Warn("http-flv setup failed", "reason", err.Error())
			return
		}
	}
	defer sink.close()
	log.Debug("flv play started")
	if hs, ok := sink.(*hijackedSink); ok {
		err = s.playGrouped(r.Context(), reader, hs)
	} else {
		err = s.play(r.Context(), reader, sink)
	}
	switch {
	case errors.Is(err, hub.ErrEnded):
		log.Info("flv play ended: stream ended")
	case errors.Is(err, context.Canceled), errors.Is(err, errClientGone):
		log.Debug("flv play ended: client left")
	default:
		log.Warn("flv viewer dropped", "reason", err.Error())
	}
}

// sink is one transport of the FLV byte stream.
type sink interface {
	// context ends when the client goes away.
	context(parent context.Context) context.Context
	// write sends bufs as one batch within the deadline.
	write(bufs [][]byte, deadline time.Time) error
	close()
}

var errClientGone = errors.New("client went away")

// head returns the FLV header and onMetaData tag for reader, and the
// tracks its sequence headers go out for.
func head(reader *hub.Reader) (b []byte, tags tagState) {
	hasVideo, hasAudio := reader.Stream().Kinds()
	tags.video, tags.audio = reader.Tracks()
	b = flv.AppendHeader(nil, hasVideo, hasAudio)
	b = flv.AppendTag(b, flv.TagScript, 0, flv.MetadataBody(tags.video, tags.audio))
	return b, tags
}

// play writes the FLV header, metadata and the hub's packets to sink until
// the stream ends, the client leaves or the client is too slow: one
// goroutine per viewer (WebSocket, HTTP/2, TLS; HTTP/1.1 viewers use
// playGrouped).
func (s *Server) play(ctx context.Context, reader *hub.Reader, out sink) error {
	ctx = out.context(ctx)
	h, tags := head(reader)
	// The header goes out at once: players (and proxies) see a live
	// response even before the first packet.
	if err := out.write([][]byte{h}, time.Now().Add(s.writeTimeout())); err != nil {
		return err
	}
	batch := make([]*av.Packet, 0, 64)
	store := make([][]byte, 0, 2*cap(batch))
	for {
		var err error
		batch, err = reader.Read(ctx, batch[:0])
		if err != nil {
			return err
		}
		bufs := tags.appendTags(store[:0], batch)
		if err := out.write(bufs, time.Now().Add(s.writeTimeout())); err != nil {
			if ctx.Err() != nil {
				return errClientGone
			}
			return err
		}
	}
}

// tagState is what a viewer's writer remembers between batches: the
// sequence headers the viewer has been sent.
type tagState struct {
	video, audio         *av.Track // the reader's tracks at the start
	lastVideo, lastAudio *av.Track
}

// appendTags appends the FLV tags of batch to bufs: the shared tags of the
// packets, preceded by sequence headers where the viewer needs them.
func (t *tagState) appendTags(bufs [][]byte, batch []*av.Packet) [][]byte {
	if t.lastVideo == nil && t.lastAudio == nil {
		// Both sequence headers go first, so players configure both
		// decoders before the first frame (the GOP may open with video
		// and carry its first audio frame later).
		ts := flv.TimestampMS(batch[0].DTS)
		if t.video != nil {
			t.lastVideo = t.video
			bufs = append(bufs, flv.AppendTag(nil, flv.TagVideo, ts, flv.AppendSequenceHeaderBody(nil, t.video)))
		}
		if t.audio != nil {
			t.lastAudio = t.audio
			if flv.HasSequenceHeader(t.audio) {
				bufs = append(bufs, flv.AppendTag(nil, flv.TagAudio, ts, flv.AppendSequenceHeaderBody(nil, t.audio)))
			}
		}
	}
	for _, p := range batch {
		last := &t.lastAudio
		if p.Kind() == av.KindVideo {
			last = &t.lastVideo
		}
		if p.Track != *last {
			*last = p.Track
			if flv.HasSequenceHeader(p.Track) {
				bufs = append(bufs, sequenceHeaderTag(p))
			}
		}
		bufs = append(bufs, flv.SharedTag(p))
	}
	return bufs
}

func sequenceHeaderTag(p *av.Packet) []byte {
	typ := uint8(flv.TagAudio)
	if p.Kind() == av.KindVideo {
		typ = flv.TagVideo
	}
	return flv.AppendTag(nil, typ, flv.TimestampMS(p.DTS), flv.AppendSequenceHeaderBody(nil, p.Track))
}
