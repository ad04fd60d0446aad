package rtmpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/flv"
	"github.com/sluicemedia/sluice/internal/hub"
	"github.com/sluicemedia/sluice/internal/rtmp"
	"github.com/sluicemedia/sluice/internal/streampath"
)

// publishSession turns a publisher's RTMP messages into hub packets.
type publishSession struct {
	c     *conn
	path  string
	query url.Values
	pub   *hub.Publisher
	auth  auth.Request // what was authorized, for the on_unpublish notification
	// ingest turns the messages into hub packets; its clock extends the
	// publisher's wrapping 32-bit timestamps, so the hub gets a continuous
	// 64-bit DTS even across 2^32 ms.
	ingest      flv.Ingest
	unsupported map[string]bool
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
	ps := &publishSession{c: c, path: path, query: query, pub: p, unsupported: map[string]bool{}, auth: areq}
	c.log = c.log.With("path", path)
	ps.ingest = flv.Ingest{Sink: p, Clock: &rtmp.Timeline{}, Log: c.log, Unsupported: ps.dropTrack}
	c.pub = ps
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
func (ps *publishSession) data(vals []any) { ps.ingest.Metadata(vals) }

// media handles one audio, video or aggregate message.
func (ps *publishSession) media(msg *rtmp.Message) error {
	if msg.Type == rtmp.MsgAggregate {
		return ps.ingest.Aggregate(msg.Timestamp, msg.Payload)
	}
	return ps.ingest.Tag(msg.Type, msg.Timestamp, msg.Payload)
}
