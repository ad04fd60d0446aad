package rtmpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/sluicemedia/sluice/internal/amf0"
	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/av"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/streampath"
)

// announceAfter is how much media a publisher without usable metadata sends
// before its track set is taken as final.
const announceAfter = time.Second

// publishSession turns a publisher's RTMP messages into hub packets.
type publishSession struct {
	c     *conn
	path  string
	query url.Values
	pub   *hub.Publisher
	demux flv.Demuxer
	auth  auth.Request // what was authorized, for the on_unpublish notification

	metadata    amf0.ECMAArray
	metaKnown   bool
	expectVideo bool
	expectAudio bool
	announced   bool
	// timeline extends the publisher's wrapping 32-bit timestamps: the
	// hub gets a continuous 64-bit DTS even across 2^32 ms.
	timeline     rtmp.Timeline
	firstTS      int64
	haveFirstTS  bool
	droppedNoHdr int
	unsupported  map[string]bool
}

func (c *conn) startPublish(ctx context.Context, cmd *rtmp.Command) error {
	if c.pub != nil || c.play != nil {
		return errors.New("publish: session already active on this connection")
	}
	path, query, err := streampath.FromRTMP(c.app, streamName(cmd))
	if err != nil {
		return c.refuse(slog.LevelWarn, "publish", "", "NetStream.Publish.BadName", err.Error())
	}
	for k, v := range c.appQuery {
		query[k] = append(query[k], v...)
	}
	areq := c.authRequest(auth.Publish, path, query)
	if err := c.authorize(ctx, areq, "NetStream.Publish.BadName"); err != nil {
		return err
	}
	p, err := c.srv.Hub.Publish(path, hub.ClientInfo{Protocol: c.proto, Remote: c.nc.RemoteAddr().String()})
	if err != nil {
		if errors.Is(err, hub.ErrBusy) {
			return c.refuse(slog.LevelWarn, "publish", path, "NetStream.Publish.BadName", fmt.Sprintf("stream %s is already being published", path))
		}
		return c.refuse(slog.LevelWarn, "publish", path, "NetStream.Publish.Failed", err.Error())
	}
	// Authorized: a publisher's media may use the full limits, and writes
	// (acknowledgements) are no longer bound to the command phase.
	c.wire.SetRestricted(false)
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		p.Close(err.Error())
		return err
	}
	c.pub = &publishSession{c: c, path: path, query: query, pub: p, unsupported: map[string]bool{}, auth: areq}
	c.log = c.log.With("path", path)
	// A kicked publisher (stream ended by the API or shutdown) is
	// disconnected at once.
	go func() {
		select {
		case <-p.Done():
			c.nc.Close()
		case <-ctx.Done():
		}
	}()
	if err := c.wire.WriteMessage(rtmp.UserControl{Event: rtmp.UCStreamBegin, StreamID: mediaStreamID}.Message()); err != nil {
		return err
	}
	return c.status("status", "NetStream.Publish.Start", path+" is now published.")
}

func (ps *publishSession) close(err error) {
	reason := "client closed"
	if err != nil && !errors.Is(err, errClientQuit) {
		reason = err.Error()
	}
	ps.pub.Close(reason)
	if a := ps.c.srv.Auth; a != nil {
		a.Ended(ps.auth)
	}
}

// data handles @setDataFrame / onMetaData.
func (ps *publishSession) data(vals []any) {
	if len(vals) > 0 && vals[0] == "@setDataFrame" {
		vals = vals[1:]
	}
	if len(vals) < 2 || vals[0] != "onMetaData" {
		return
	}
	var md amf0.ECMAArray
	switch v := vals[1].(type) {
	case amf0.ECMAArray:
		md = v
	case amf0.Object:
		md = amf0.ECMAArray(v)
	default:
		return
	}
	ps.metadata = md
	ps.metaKnown = true
	ps.expectVideo = hasCodec(md, "videocodecid")
	ps.expectAudio = hasCodec(md, "audiocodecid")
}

func hasCodec(md amf0.ECMAArray, key string) bool {
	v, ok := md.Get(key)
	if !ok {
		return false
	}
	switch x := v.(type) {
	case float64:
		return x != 0
	case string:
		return x != ""
	}
	return false
}

// media handles one audio, video or aggregate message.
func (ps *publishSession) media(msg *rtmp.Message) error {
	if msg.Type == rtmp.MsgAggregate {
		return ps.aggregate(msg)
	}
	return ps.tag(msg.Type, msg.Timestamp, msg.Payload)
}

func (ps *publishSession) tag(typ uint8, wireTS uint32, body []byte) error {
	if len(body) == 0 {
		return nil // some encoders send empty audio/video messages
	}
	ts := ps.timeline.Extend(wireTS)
	var (
		pkt *av.Packet
		err error
	)
	if typ == rtmp.MsgVideo {
		pkt, err = ps.demux.Video(ts, body)
	} else {
		pkt, err = ps.demux.Audio(ts, body)
	}
	switch {
	case errors.Is(err, flv.ErrNoSequenceHeader):
		ps.droppedNoHdr++
		if ps.droppedNoHdr == 1 {
			ps.c.log.Warn("rtmp frame before its sequence header dropped", "type", typ)
		}
		return nil
	case errors.Is(err, flv.ErrUnsupportedCodec):
		return ps.dropTrack(typ, body, err)
	case err != nil:
		return fmt.Errorf("malformed media: %w", err)
	}
	if !ps.haveFirstTS {
		ps.firstTS, ps.haveFirstTS = ts, true
	}
	ps.maybeAnnounce(ts)
	if pkt == nil {
		return nil
	}
	return ps.pub.WritePacket(pkt)
}

// maybeAnnounce declares the track set once it is known: every codec the
// metadata names has its configuration, or (no metadata) both kinds are
// present, or a second of media has passed.
func (ps *publishSession) maybeAnnounce(ts int64) {
	if ps.announced {
		return
	}
	v, a := ps.demux.VideoTrack() != nil, ps.demux.AudioTrack() != nil
	ready := v && a
	if ps.metaKnown {
		ready = (v || !ps.expectVideo) && (a || !ps.expectAudio) && (v || a)
	}
	if !ready && time.Duration(ts-ps.firstTS)*time.Millisecond >= announceAfter && (v || a) {
		ready = true
	}
	if ready {
		ps.announced = true
		ps.pub.Announce(v, a)
	}
}

// aggregate unpacks an aggregate message (a run of FLV tags) — RTMP spec
// §7.1.6; sub-tag timestamps are relative to the first one.
func (ps *publishSession) aggregate(msg *rtmp.Message) error {
	b := msg.Payload
	var base uint32
	first := true
	for len(b) > 0 {
		if len(b) < 11 {
			return errors.New("malformed aggregate message: truncated tag header")
		}
		typ := b[0]
		size := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		ts := uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6]) | uint32(b[7])<<24
		if len(b) < 11+size+4 {
			return errors.New("malformed aggregate message: truncated tag body")
		}
		body := b[11 : 11+size]
		b = b[11+size+4:]
		if first {
			base, first = ts, false
		}
		if typ != rtmp.MsgAudio && typ != rtmp.MsgVideo {
			continue
		}
		if err := ps.tag(typ, msg.Timestamp+(ts-base), body); err != nil {
			return err
		}
	}
	return nil
}
