package rtmpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/netutil"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/streampath"
)

// playSession feeds one RTMP viewer from a hub reader.
type playSession struct {
	c      *conn
	path   string
	reader *hub.Reader
	cancel context.CancelFunc
	done   chan struct{}
	auth   auth.Request // what was authorized, for the on_stop notification
}

func (c *conn) startPlay(ctx context.Context, cmd *rtmp.Command) error {
	if c.pub != nil || c.play != nil {
		return errors.New("play: session already active on this connection")
	}
	path, query, err := streampath.FromRTMP(c.app, streamName(cmd))
	if err != nil {
		return c.refuse("NetStream.Play.StreamNotFound", err.Error())
	}
	for k, v := range c.appQuery {
		query[k] = append(query[k], v...)
	}
	areq := c.authRequest(auth.Play, path, query)
	if err := c.authorize(ctx, areq, "NetStream.Play.Failed"); err != nil {
		return err
	}
	reader, err := c.srv.Hub.Subscribe(ctx, path, hub.ClientInfo{Protocol: c.proto, Remote: c.nc.RemoteAddr().String()})
	if err != nil {
		if errors.Is(err, hub.ErrNotFound) || errors.Is(err, hub.ErrNotReady) || errors.Is(err, hub.ErrEnded) {
			return c.refuse("NetStream.Play.StreamNotFound", fmt.Sprintf("stream %s is not published", path))
		}
		return err
	}
	// FLV carries AAC everywhere; Opus (Enhanced RTMP) only where the
	// stream has no AAC, original or derived.
	reader.PreferAudio(av.CodecAAC, av.CodecOpus)
	pctx, cancel := context.WithCancel(ctx)
	ps := &playSession{c: c, path: path, reader: reader, cancel: cancel, done: make(chan struct{}), auth: areq}
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
	go ps.run(pctx)
	return nil
}

// sampleAccess is the |RtmpSampleAccess data message Flash-era players expect.
var sampleAccess = []byte{0x02, 0x00, 0x11, '|', 'R', 't', 'm', 'p', 'S', 'a', 'm', 'p', 'l', 'e', 'A', 'c', 'c', 'e', 's', 's', 0x01, 0x01, 0x01, 0x01}

// stop ends the session and waits for its goroutine.
func (ps *playSession) stop() {
	ps.cancel()
	<-ps.done
	ps.reader.Close()
	if a := ps.c.srv.Auth; a != nil {
		a.Ended(ps.auth)
	}
}

// run is the viewer's writer: it reads batches from the hub and writes the
// shared, pre-chunked bytes of each packet with one writev per batch.
func (ps *playSession) run(ctx context.Context) {
	defer close(ps.done)
	err := ps.loop(ctx)
	if ctx.Err() != nil {
		return // the connection is ending for another reason
	}
	switch {
	case errors.Is(err, hub.ErrEnded):
		_ = ps.c.status("status", "NetStream.Play.UnpublishNotify", ps.path+" is now unpublished.")
		_ = ps.c.wire.WriteMessage(rtmp.UserControl{Event: rtmp.UCStreamEOF, StreamID: mediaStreamID}.Message())
		ps.c.log.Info("rtmp play ended: stream ended")
	default:
		ps.c.log.Warn("rtmp viewer dropped", "reason", err.Error())
	}
	ps.c.nc.Close()
}

func (ps *playSession) loop(ctx context.Context) error {
	srv := ps.c.srv
	batch := make([]*av.Packet, 0, 64)
	store := make(net.Buffers, 0, 2*cap(batch))
	var lastVideo, lastAudio *av.Track
	var deadline netutil.WriteDeadline
	for {
		var err error
		batch, err = ps.reader.Read(ctx, batch[:0])
		if err != nil {
			return err
		}
		bufs := store[:0]
		if lastVideo == nil && lastAudio == nil {
			// Both sequence headers first: see flvserver.play.
			video, audio := ps.reader.Tracks()
			for _, t := range []*av.Track{video, audio} {
				if t == nil {
					continue
				}
				if t.Kind() == av.KindVideo {
					lastVideo = t
				} else {
					lastAudio = t
				}
				bufs = append(bufs, srv.sequenceHeaderChunks(t, batch[0].DTS))
			}
		}
		for _, p := range batch {
			last := &lastAudio
			if p.Kind() == av.KindVideo {
				last = &lastVideo
			}
			if p.Track != *last {
				// New or changed codec configuration: its sequence header
				// goes first. Rare, so built per viewer.
				*last = p.Track
				bufs = append(bufs, srv.sequenceHeaderChunks(p.Track, p.DTS))
			}
			bufs = append(bufs, srv.packetChunks(p))
		}
		if err := deadline.Extend(ps.c.nc, srv.WriteTimeout); err != nil {
			return err
		}
		if err := ps.c.wire.WriteBuffers(&bufs); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
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
