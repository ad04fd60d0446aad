package rtmpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/netutil"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/streampath"
)

// playSession feeds one RTMP viewer from a hub reader. It is written
// either by a fan-out group's goroutine together with other viewers of the
// stream (pooled: non-blocking writes, see fanout.go) or by a goroutine of
// its own (blocking writes with the write timeout): every viewer starts on
// its own goroutine, joins a group once it has caught up with the live
// edge, and gets its own goroutine again while its socket is full.
type playSession struct {
	c      *conn
	path   string
	reader *hub.Reader
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when nothing writes for the session any more
	auth   auth.Request  // what was authorized, for the on_stop notification

	// raw writes to the socket without blocking; nil (TLS) keeps the
	// session on its own goroutine.
	raw *netutil.TryWriter
	// mu orders joining a group against stop.
	mu sync.Mutex
	// grp is the group writing for the session, nil when on its own
	// goroutine or finished; changed under grp.mu (and mu to join).
	grp atomic.Pointer[fanGroup]

	// Writer state, owned by whoever writes for the session.
	lastVideo, lastAudio *av.Track
	deadline             netutil.WriteDeadline
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
	ps := &playSession{c: c, path: path, reader: reader, ctx: pctx, cancel: cancel, done: make(chan struct{}), auth: areq,
		raw: netutil.NewTryWriter(c.nc)}
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
	go ps.own(nil, false)
	return nil
}

// sampleAccess is the |RtmpSampleAccess data message Flash-era players expect.
var sampleAccess = []byte{0x02, 0x00, 0x11, '|', 'R', 't', 'm', 'p', 'S', 'a', 'm', 'p', 'l', 'e', 'A', 'c', 'c', 'e', 's', 's', 0x01, 0x01, 0x01, 0x01}

// stop ends the session and waits until nothing writes for it.
func (ps *playSession) stop() {
	ps.cancel()
	ps.leave()
	<-ps.done
	ps.reader.Close()
	if a := ps.c.srv.Auth; a != nil {
		a.Ended(ps.auth)
	}
}

// finish ends a session whose reading or writing failed with err (on the
// session's own goroutine: it may block for the write timeout) and
// releases it.
func (ps *playSession) finish(err error) {
	defer close(ps.done)
	if ps.ctx.Err() != nil {
		return // the connection is ending for another reason
	}
	switch {
	case errors.Is(err, hub.ErrEnded):
		// Pooled writes renew the deadline only when they write.
		_ = ps.c.nc.SetWriteDeadline(time.Now().Add(ps.c.srv.WriteTimeout))
		_ = ps.c.status("status", "NetStream.Play.UnpublishNotify", ps.path+" is now unpublished.")
		_ = ps.c.wire.WriteMessage(rtmp.UserControl{Event: rtmp.UCStreamEOF, StreamID: mediaStreamID}.Message())
		ps.c.log.Info("rtmp play ended: stream ended")
	default:
		ps.c.log.Warn("rtmp viewer dropped", "reason", err.Error())
	}
	ps.c.nc.Close()
}

// errPooled ends own: the session joined a fan-out group.
var errPooled = errors.New("joined a fan-out group")

// own is the session's own goroutine: it writes pending (what is left of
// a batch its group could not write, or all of it) and then reads and
// writes with blocking writes until the session can join a group or ends.
// When locked is set, pending is the rest of a short write and the
// rtmp.Conn's write lock is still held for it: own releases it.
func (ps *playSession) own(pending net.Buffers, locked bool) {
	err := ps.ownLoop(pending, locked)
	if err == errPooled {
		return
	}
	ps.finish(err)
}

func (ps *playSession) ownLoop(pending net.Buffers, locked bool) error {
	if locked {
		err := ps.writeLocked(&pending)
		ps.c.wire.UnlockWrite()
		if err != nil {
			return err
		}
	} else if len(pending) > 0 {
		if err := ps.write(&pending); err != nil {
			return err
		}
	}
	batch := make([]*av.Packet, 0, 64)
	store := make(net.Buffers, 0, 2*cap(batch))
	for {
		var err error
		if ps.raw == nil {
			batch, err = ps.reader.Read(ps.ctx, batch[:0])
		} else if batch, err = ps.reader.Read(doneCtx, batch[:0]); err == context.Canceled && ps.ctx.Err() == nil {
			// Caught up with the live edge: a group takes over.
			if joinGroup(ps) {
				return errPooled
			}
			batch, err = ps.reader.Read(ps.ctx, batch[:0])
		}
		if err != nil {
			return err
		}
		bufs := ps.appendBatch(store[:0], batch)
		if err := ps.write(&bufs); err != nil {
			return err
		}
	}
}

// write sends bufs from the session's own goroutine: blocking, under the
// rtmp.Conn's write lock, with the write timeout.
func (ps *playSession) write(bufs *net.Buffers) error {
	if err := ps.deadline.Extend(ps.c.nc, ps.c.srv.WriteTimeout); err != nil {
		return err
	}
	if err := ps.c.wire.WriteBuffers(bufs); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// writeLocked is write for the holder of the rtmp.Conn's write lock.
func (ps *playSession) writeLocked(bufs *net.Buffers) error {
	if err := ps.deadline.Extend(ps.c.nc, ps.c.srv.WriteTimeout); err != nil {
		return err
	}
	if err := ps.c.wire.WriteBuffersLocked(bufs); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// appendBatch appends the shared, pre-chunked bytes of batch to bufs,
// preceded by sequence headers where the viewer needs them.
func (ps *playSession) appendBatch(bufs net.Buffers, batch []*av.Packet) net.Buffers {
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
			bufs = append(bufs, srv.sequenceHeaderChunks(t, batch[0].DTS))
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
			bufs = append(bufs, srv.sequenceHeaderChunks(p.Track, p.DTS))
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
