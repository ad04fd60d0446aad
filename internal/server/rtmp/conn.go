package rtmpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicemedia/sluice/internal/amf0"
	"github.com/sluicemedia/sluice/internal/auth"
	"github.com/sluicemedia/sluice/internal/rtmp"
)

// Message stream and chunk stream IDs the server uses for its replies and
// media. Every play session uses the same IDs, which is what lets all RTMP
// viewers share one chunked copy of each packet.
const (
	mediaStreamID = 1
	csidControl   = 2
	csidCommand   = 3
	csidAudio     = 4
	csidData      = 5
	csidVideo     = 6

	// windowAckSize is announced to peers: they acknowledge every 2.5 MB.
	windowAckSize = 2_500_000
)

// conn is one RTMP client connection, publisher or player.
type conn struct {
	srv   *Server
	nc    net.Conn
	proto string
	log   *slog.Logger
	wire  *rtmp.Conn

	app      string
	appQuery url.Values
	tcURL    string

	pub  *publishSession
	play *playSession

	// closeReason is why another goroutine closed nc (an error), so the
	// reader's "use of closed connection" is logged as what happened.
	closeReason atomic.Pointer[error]
	// endLogged is set by whoever already wrote the connection's last line.
	endLogged atomic.Bool
}

// errClientQuit ends a session normally (deleteStream, closeStream, EOF).
var errClientQuit = errors.New("client closed the session")

// errLogged wraps an error that ends the connection and has already been
// logged (with the path and the reason), so serve does not log it again.
var errLogged = errors.New("already logged")

func (c *conn) serve(ctx context.Context) {
	defer c.nc.Close()
	c.log = c.srv.Logger.With("proto", c.proto, "remote", c.nc.RemoteAddr().String())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	err := c.run(ctx)
	c.nc.Close() // unblocks a play writer stuck on a dead socket
	if c.wire != nil {
		c.wire.Release() // this connection's share of the unfinished budget
	}
	if c.pub != nil {
		c.pub.close(err)
	}
	if c.play != nil {
		c.play.stop()
	}
	if errors.Is(err, net.ErrClosed) {
		// Our own Close: the reason, if any, was recorded by who closed.
		if r := c.closeReason.Load(); r != nil {
			err = *r
		}
	}
	c.logEnd(ctx, err)
}

// logEnd writes the one line that ends a connection: INFO when a viewer
// left (or the server stopped), DEBUG when a publisher (the hub logs the
// stream's end) or a client that never started a session did, WARN when
// the connection was dropped for a fault.
func (c *conn) logEnd(ctx context.Context, err error) {
	what := "rtmp connection closed"
	switch {
	case c.pub != nil:
		what = "rtmp publish ended"
	case c.play != nil:
		what = "rtmp play ended"
	}
	switch {
	case errors.Is(err, errLogged) || c.endLogged.Load():
	case ctx.Err() != nil:
		c.log.Info(what, "reason", "server stopping")
	case err == nil || peerGone(err):
		reason := "client left"
		switch {
		case err == nil, errors.Is(err, errClientQuit), errors.Is(err, io.EOF):
		case errors.Is(err, syscall.ECONNRESET):
			reason += " (connection reset)"
		case errors.Is(err, syscall.EPIPE):
			reason += " (broken pipe)"
		default:
			reason += ": " + err.Error()
		}
		if c.play != nil {
			c.log.Info(what, "reason", reason)
		} else {
			// A publisher's end is the hub's "publish stopped" line.
			c.log.Debug(what, "reason", reason)
		}
	default:
		c.log.Warn("rtmp connection dropped", "reason", err.Error())
	}
}

// peerGone reports whether err is how a client leaving shows: a command
// that ends the session, EOF, or the kernel's reset / broken pipe of a
// socket the client closed.
func peerGone(err error) bool {
	return errors.Is(err, errClientQuit) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func (c *conn) run(ctx context.Context) error {
	start := time.Now()
	if err := c.nc.SetDeadline(start.Add(c.srv.HandshakeTimeout)); err != nil {
		return err
	}
	if err := rtmp.ServerHandshake(c.nc); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("handshake: not completed within %s", c.srv.HandshakeTimeout)
		}
		return fmt.Errorf("handshake: %w", err)
	}
	l := c.srv.Limits
	l.Budget = c.srv.budget
	c.wire = rtmp.NewConn(c.nc, l)
	// Until a publish is authorized anybody may be on the other end: only
	// the small messages of the command phase are accepted.
	c.wire.SetRestricted(true)
	for {
		// Deadlines that are not renewed by traffic: a peer that trickles
		// control messages cannot stay in the command phase.
		timeout := "" // why the read deadline fires
		switch {
		case c.app == "":
			timeout = fmt.Sprintf("handshake: no connect within %s", c.srv.HandshakeTimeout)
		case c.pub == nil && c.play == nil:
			timeout = fmt.Sprintf("no publish or play within %s of connect", c.srv.IdleTimeout)
		case c.pub != nil:
			// Publishers must keep talking. Players only send
			// acknowledgements; their liveness shows in the write path.
			if err := c.nc.SetReadDeadline(time.Now().Add(c.srv.IdleTimeout)); err != nil {
				return err
			}
			timeout = fmt.Sprintf("idle: no data for %s", c.srv.IdleTimeout)
		}
		msg, err := c.wire.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && timeout != "" {
				return errors.New(timeout)
			}
			return err
		}
		if err := c.handle(ctx, msg); err != nil {
			return err
		}
	}
}

func (c *conn) handle(ctx context.Context, msg *rtmp.Message) error {
	switch msg.Type {
	case rtmp.MsgAudio, rtmp.MsgVideo, rtmp.MsgAggregate:
		if c.pub == nil {
			return nil // media before publish: ignore, as other servers do
		}
		return c.pub.media(msg)
	case rtmp.MsgDataAMF0, rtmp.MsgDataAMF3:
		if c.pub == nil {
			return nil
		}
		vals, err := rtmp.ParseData(msg)
		if err != nil {
			return fmt.Errorf("data message: %w", err)
		}
		c.pub.data(vals)
		return nil
	case rtmp.MsgCommandAMF0, rtmp.MsgCommandAMF3:
		cmd, err := rtmp.ParseCommand(msg)
		if err != nil {
			return fmt.Errorf("command: %w", err)
		}
		return c.command(ctx, cmd)
	}
	return nil // protocol control is handled by rtmp.Conn
}

func (c *conn) command(ctx context.Context, cmd *rtmp.Command) error {
	switch cmd.Name {
	case "connect":
		return c.connect(cmd)
	case "releaseStream", "FCPublish", "FCSubscribe", "getStreamLength":
		if cmd.TransactionID != 0 {
			return c.reply(cmd, nil)
		}
		return nil
	case "createStream":
		return c.reply(cmd, nil, float64(mediaStreamID))
	case "publish":
		if c.app == "" {
			return errors.New("publish before connect")
		}
		return c.startPublish(ctx, cmd)
	case "play":
		if c.app == "" {
			return errors.New("play before connect")
		}
		return c.startPlay(ctx, cmd)
	case "deleteStream", "closeStream", "FCUnpublish":
		if c.pub != nil || c.play != nil {
			return errClientQuit
		}
		return nil
	}
	return nil // unknown commands (receiveAudio, pause, ...) are ignored
}

func (c *conn) connect(cmd *rtmp.Command) error {
	obj, _ := cmd.Object.(amf0.Object)
	app := obj.String("app")
	c.tcURL = obj.String("tcUrl")
	// The app may carry a query (rtmp://h/live?token=x/cam1 puts it there).
	if i := strings.IndexByte(app, '?'); i >= 0 {
		c.appQuery, _ = url.ParseQuery(app[i+1:])
		app = app[:i]
	}
	app = strings.Trim(app, "/")
	if app == "" {
		return errors.New("connect: empty app")
	}
	if c.app != "" {
		// It would restart the command phase's deadline.
		return errors.New("connect: a second connect on one connection")
	}
	c.app = app
	// The deadline of the command phase, for reads and writes: publish or
	// play within IdleTimeout of connect. Starting either replaces it.
	if err := c.nc.SetDeadline(time.Now().Add(c.srv.IdleTimeout)); err != nil {
		return err
	}
	for _, m := range []*rtmp.Message{
		rtmp.WindowAckSizeMessage(windowAckSize),
		rtmp.SetPeerBandwidthMessage(windowAckSize, 2),
	} {
		if err := c.wire.WriteMessage(m); err != nil {
			return err
		}
	}
	if err := c.wire.SetOutChunkSize(c.srv.ChunkSize); err != nil {
		return err
	}
	props := amf0.Object{{Key: "fmsVer", Value: "FMS/3,0,1,123"}, {Key: "capabilities", Value: 31.0}}
	// Enhanced RTMP: echo the codecs we understand when the client lists them.
	if _, ok := obj.Get("fourCcList"); ok {
		props = append(props, amf0.Property{Key: "fourCcList", Value: amf0.StrictArray{"avc1", "hvc1", "av01", "Opus", "mp4a", ".mp3"}})
	}
	info := rtmp.StatusObject("status", "NetConnection.Connect.Success", "Connection succeeded.")
	info = append(info, amf0.Property{Key: "objectEncoding", Value: 0.0})
	return c.reply(cmd, props, info)
}

// reply sends _result for cmd with the given command object and arguments.
func (c *conn) reply(cmd *rtmp.Command, obj any, args ...any) error {
	res := &rtmp.Command{Name: "_result", TransactionID: cmd.TransactionID, Object: obj, Args: args}
	m, err := res.Message(csidCommand, 0)
	if err != nil {
		return err
	}
	return c.wire.WriteMessage(m)
}

// status sends an onStatus event on the media stream.
func (c *conn) status(level, code, desc string) error {
	cmd := &rtmp.Command{Name: "onStatus", Object: nil, Args: []any{rtmp.StatusObject(level, code, desc)}}
	m, err := cmd.Message(csidCommand, mediaStreamID)
	if err != nil {
		return err
	}
	return c.wire.WriteMessage(m)
}

// refuse logs one line (at level, with the path when the name was valid:
// the reason quotes an invalid one), tells the client why and ends the
// connection.
func (c *conn) refuse(level slog.Level, what, path, code, desc string) error {
	if path != "" {
		c.log.Log(context.Background(), level, "rtmp "+what+" refused", "path", path, "reason", desc)
	} else {
		c.log.Log(context.Background(), level, "rtmp "+what+" refused", "reason", desc)
	}
	if err := c.status("error", code, desc); err != nil {
		return fmt.Errorf("%w: %s refused: %s (and sending the refusal: %v)", errLogged, what, desc, err)
	}
	return fmt.Errorf("%w: %s refused: %s", errLogged, what, desc)
}

// authorize asks the server's Authorizer about req. On a denial it logs
// one line (remote, path, reason), sends code with the reason to the
// client and returns the error that ends the connection.
func (c *conn) authorize(ctx context.Context, req auth.Request, code string) error {
	if c.srv.Auth == nil {
		return nil
	}
	err := c.srv.Auth.Authorize(ctx, req)
	if err == nil {
		return nil
	}
	c.log.Warn("rtmp "+string(req.Action)+" denied", "path", req.Path, "reason", err.Error())
	if serr := c.status("error", code, err.Error()); serr != nil {
		return fmt.Errorf("%w: %s denied: %w (and sending the refusal: %v)", errLogged, req.Action, err, serr)
	}
	return fmt.Errorf("%w: %s denied: %w", errLogged, req.Action, err)
}

// authRequest describes this connection's publish or play of path to the
// Authorizer; the credential is the query's key or token.
func (c *conn) authRequest(action auth.Action, path string, query url.Values) auth.Request {
	return auth.Request{
		Action:   action,
		Path:     path,
		Protocol: c.proto,
		Remote:   c.nc.RemoteAddr().String(),
		Token:    auth.TokenFromQuery(query),
		Query:    query,
	}
}

// streamName returns the publish/play stream name argument.
func streamName(cmd *rtmp.Command) string {
	if len(cmd.Args) == 0 {
		return ""
	}
	s, _ := cmd.Args[0].(string)
	return s
}
