package rtmpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/fanout"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/streampath"
)

// playSession feeds one RTMP viewer from a hub reader through a
// fanout.Viewer: written by a fan-out group's goroutine together with other
// viewers of the stream while it keeps up, by a goroutine of its own
// otherwise (see package fanout). It is the viewer's fanout.Conn.
type playSession struct {
	c      *conn
	path   string
	reader *hub.Reader
	auth   auth.Request // what was authorized, for the on_stop notification
	v      *fanout.Viewer

	// Writer state, owned by whoever writes for the session.
	lastVideo, lastAudio *av.Track
}

func (c *conn) startPlay(ctx context.Context, cmd *rtmp.Command) error {
	if c.pub != nil || c.play != nil {
		return errors.New("play: session already active on this connection")
	}
	path, query, err := streampath.FromRTMP(c.app, streamName(cmd))
	if err != nil {
		return c.refuse(slog.LevelWarn, "play", "", "NetStream.Play.StreamNotFound", err.Error())
	}
	for k, v := range c.appQuery {
		query[k] = append(query[k], v...)
	}
	areq := c.authRequest(auth.Play, path, query)
	if err := c.authorize(ctx, areq, "NetStream.Play.Failed"); err != nil {
		return err
	}
	// An on-demand source starts with its first viewer (hub.Demand); if
	// it cannot, Subscribe answers as before.
	_ = c.srv.Hub.Demand(ctx, path)
	reader, err := c.srv.Hub.Subscribe(ctx, path, hub.ClientInfo{Protocol: c.proto, Remote: c.nc.RemoteAddr().String()})
	if err != nil {
		if errors.Is(err, hub.ErrNotFound) || errors.Is(err, hub.ErrNotReady) || errors.Is(err, hub.ErrEnded) {
			// Pullers retry until the stream is up: not a fault.
			return c.refuse(slog.LevelInfo, "play", path, "NetStream.Play.StreamNotFound", fmt.Sprintf("stream %s is not published", path))
		}
		return err
	}
	// FLV carries AAC everywhere; Opus (Enhanced RTMP) only where the
	// stream has no AAC, original or derived; MP3 as the publisher sent it,
	// before Opus: an MP3 stream's derived Opus (for WebRTC viewers, on
	// demand) must not switch these viewers' codec mid-stream.
	reader.PreferAudio(av.CodecAAC, av.CodecMP3, av.CodecOpus)
	ps := &playSession{c: c, path: path, reader: reader, auth: areq}
	ps.v = fanout.NewViewer(ctx, &c.srv.groups, c.nc, reader, c.srv.WriteTimeout, ps)
	c.play = ps
	c.log = c.log.With("path", path)
	if err := c.nc.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	for _, m := range []*rtmp.Message{
		rtmp.UserControl{Event: rtmp.UCStreamIsRecorded, StreamID: mediaStreamID}.Message(),
		rtmp.UserControl{Event: rtmp.UCStreamBegin, StreamID: mediaStreamID}.Message(),
	} {
		if err := c.wire.WriteMessage(m); err != nil {
			return err
		}
	}
	if err := c.status("status", "NetStream.Play.Reset", "Playing and resetting "+path+"."); err != nil {
		return err
	}
	if err := c.status("status", "NetStream.Play.Start", "Started playing "+path+"."); err != nil {
		return err
	}
	video, audio := reader.Tracks()
	for _, payload := range [][]byte{sampleAccess, flv.MetadataBody(video, audio)} {
		m := &rtmp.Message{Type: rtmp.MsgDataAMF0, ChunkStreamID: csidData, StreamID: mediaStreamID, Payload: payload}
		if err := c.wire.WriteMessage(m); err != nil {
			return err
		}
	}
	ps.v.Start()
	c.log.Debug("rtmp play started")
	return nil
}

// sampleAccess is the |RtmpSampleAccess data message Flash-era players expect.
var sampleAccess = []byte{0x02, 0x00, 0x11, '|', 'R', 't', 'm', 'p', 'S', 'a', 'm', 'p', 'l', 'e', 'A', 'c', 'c', 'e', 's', 's', 0x01, 0x01, 0x01, 0x01}

// stop ends the session and waits until nothing writes for it.
func (ps *playSession) stop() {
	ps.v.Stop()
	ps.reader.Close()
	if a := ps.c.srv.Auth; a != nil {
		a.Ended(ps.auth)
	}
}

// Finish ends a session whose reading or writing failed with err (on the
// session's own goroutine: it may block for the write timeout).
func (ps *playSession) Finish(err error) {
	switch {
	case errors.Is(err, hub.ErrEnded):
		// Pooled writes renew the deadline only when they write.
		_ = ps.c.nc.SetWriteDeadline(time.Now().Add(ps.c.srv.WriteTimeout))
		_ = ps.c.status("status", "NetStream.Play.UnpublishNotify", ps.path+" is now unpublished.")
		_ = ps.c.wire.WriteMessage(rtmp.UserControl{Event: rtmp.UCStreamEOF, StreamID: mediaStreamID}.Message())
		ps.c.log.Info("rtmp play ended", "reason", "stream ended")
		ps.c.endLogged.Store(true)
	case peerGone(err):
		// The viewer left: the reader goroutine logs it once, with this
		// reason if it only sees our Close.
		ps.c.closeReason.Store(&err)
	default:
		ps.c.log.Warn("rtmp viewer dropped", "reason", err.Error())
		ps.c.endLogged.Store(true)
	}
	ps.c.nc.Close()
}

// TryLockWrite, UnlockWrite and AddWritten are the rtmp.Conn's: its
// reader goroutine writes replies under the same lock.
func (ps *playSession) TryLockWrite() bool { return ps.c.wire.TryLockWrite() }
func (ps *playSession) UnlockWrite()       { ps.c.wire.UnlockWrite() }
func (ps *playSession) AddWritten(n int)   { ps.c.wire.AddWritten(n) }

// WriteBuffers writes pre-chunked bytes through the rtmp.Conn.
func (ps *playSession) WriteBuffers(bufs *net.Buffers, locked bool) error {
	if locked {
		return ps.c.wire.WriteBuffersLocked(bufs)
	}
	return ps.c.wire.WriteBuffers(bufs)
}

// AppendBatch appends the shared, pre-chunked bytes of batch to bufs,
// preceded by sequence headers where the viewer needs them.
func (ps *playSession) AppendBatch(bufs net.Buffers, batch []*av.Packet) net.Buffers {
	srv := ps.c.srv
	if ps.lastVideo == nil && ps.lastAudio == nil {
		// Both sequence headers first: see flvserver.play.
		video, audio := ps.reader.Tracks()
		for _, t := range []*av.Track{video, audio} {
			if t == nil {
				continue
			}
			if t.Kind() == av.KindVideo {
				ps.lastVideo = t
			} else {
				ps.lastAudio = t
			}
			if flv.HasSequenceHeader(t) {
				bufs = append(bufs, srv.sequenceHeaderChunks(t, batch[0].DTS))
			}
		}
	}
	for _, p := range batch {
		last := &ps.lastAudio
		if p.Kind() == av.KindVideo {
			last = &ps.lastVideo
		}
		if p.Track != *last {
			// New or changed codec configuration: its sequence header
			// goes first. Rare, so built per viewer.
			*last = p.Track
			if flv.HasSequenceHeader(p.Track) {
				bufs = append(bufs, srv.sequenceHeaderChunks(p.Track, p.DTS))
			}
		}
		bufs = append(bufs, srv.packetChunks(p))
	}
	return bufs
}

func messageType(p *av.Packet) (typ uint8, csid uint32) {
	if p.Kind() == av.KindVideo {
		return rtmp.MsgVideo, csidVideo
	}
	return rtmp.MsgAudio, csidAudio
}

// packetChunks returns p as RTMP chunks, built once and shared by every
// RTMP viewer (all use the same stream ID, chunk stream IDs and chunk size).
func (s *Server) packetChunks(p *av.Packet) []byte {
	return p.Serialized(av.CacheRTMPChunks, func(p *av.Packet) []byte {
		body := flv.TagBody(flv.SharedTag(p))
		typ, csid := messageType(p)
		m := rtmp.Message{Type: typ, ChunkStreamID: csid, StreamID: mediaStreamID, Timestamp: flv.TimestampMS(p.DTS), Payload: body}
		return rtmp.AppendChunks(make([]byte, 0, len(body)+len(body)/int(s.ChunkSize)+24), &m, s.ChunkSize)
	})
}

func (s *Server) sequenceHeaderChunks(t *av.Track, dts time.Duration) []byte {
	typ, csid := uint8(rtmp.MsgAudio), uint32(csidAudio)
	if t.Kind() == av.KindVideo {
		typ, csid = rtmp.MsgVideo, csidVideo
	}
	m := rtmp.Message{Type: typ, ChunkStreamID: csid, StreamID: mediaStreamID, Timestamp: flv.TimestampMS(dts),
		Payload: flv.AppendSequenceHeaderBody(nil, t)}
	return rtmp.AppendChunks(nil, &m, s.ChunkSize)
}
