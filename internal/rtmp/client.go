package rtmp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sluicemedia/sluice/internal/amf0"
)

// Chunk stream IDs the Client uses, following ffmpeg and librtmp.
const (
	csidCommand = 3 // NetConnection commands
	csidAudio   = 4
	csidData    = 5
	csidVideo   = 6
	csidStream  = 8 // NetStream commands (publish, play, deleteStream)
)

const (
	// clientPublishChunkSize is the chunk size a publishing Client switches to.
	clientPublishChunkSize = 4096
	// clientBufferLength is the buffer length (ms) a playing Client announces.
	clientBufferLength = 3000
	// maxPending bounds messages queued while waiting for a command answer.
	maxPending = 1024
	// closeTimeout bounds the best-effort deleteStream in Close.
	closeTimeout = time.Second
)

// Client is an RTMP client connection for one stream: it publishes or plays
// the stream named by its URL. Use it from one goroutine, except that
// WriteMessage may be called concurrently with ReadMessage.
type Client struct {
	nc         net.Conn
	conn       *Conn
	app        string
	streamName string
	tcURL      string
	streamID   uint32
	nextTxn    float64
	pending    []*Message
	closeOnce  sync.Once
	closeErr   error
}

// Dial connects to rtmp://host[:port]/app/name[?query] or rtmps://... (TLS
// with tlsConfig, or a default config when nil; ServerName defaults to the
// URL host), performs the handshake and the connect command (§7.2.1.1) with
// app = first path segment and tcUrl = scheme://host:port/app, and waits for
// its _result. Default ports are 1935 for rtmp and 443 for rtmps. ctx bounds
// dialing, the handshake and connect.
func Dial(ctx context.Context, rawURL string, tlsConfig *tls.Config) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rtmp: dial: parse url: %w", err)
	}
	var port string
	switch u.Scheme {
	case "rtmp":
		port = "1935"
	case "rtmps":
		port = "443"
	default:
		return nil, fmt.Errorf("rtmp: dial %q: unsupported scheme %q", rawURL, u.Scheme)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("rtmp: dial %q: missing host", rawURL)
	}
	app, name, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if app == "" {
		return nil, fmt.Errorf("rtmp: dial %q: missing app in path", rawURL)
	}
	if u.RawQuery != "" {
		name += "?" + u.RawQuery
	}
	addr := net.JoinHostPort(host, port)

	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rtmp: dial %s: %w", addr, err)
	}
	if u.Scheme == "rtmps" {
		cfg := &tls.Config{}
		if tlsConfig != nil {
			cfg = tlsConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("rtmp: dial %s: tls handshake: %w", addr, err)
		}
		nc = tc
	}
	c := &Client{
		nc:         nc,
		app:        app,
		streamName: name,
		tcURL:      u.Scheme + "://" + addr + "/" + app,
		nextTxn:    2,
	}
	err = c.withContext(ctx, func() error {
		if err := ClientHandshake(nc); err != nil {
			return err
		}
		c.conn = NewConn(nc, DefaultLimits())
		return c.connect()
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("rtmp: dial %s: %w", addr, err)
	}
	return c, nil
}

// withContext runs fn with the connection's deadline following ctx: the
// context deadline applies, and cancellation unblocks pending I/O.
func (c *Client) withContext(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetDeadline(dl)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.nc.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	err := fn()
	if !stop() {
		<-fired // the deadline is now in the past; the connection is unusable
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		ctxErr := ctx.Err()
		if dl, ok := ctx.Deadline(); ok && ctxErr == nil && !time.Now().Before(dl) {
			// The socket deadline can fire just before the context's timer.
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil && !errors.Is(err, ctxErr) {
			// I/O failed because of the context deadline or cancellation.
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return err
	}
	_ = c.nc.SetDeadline(time.Time{})
	return nil
}

func (c *Client) connect() error {
	cmd := &Command{
		Name:          "connect",
		TransactionID: 1,
		Object: amf0.Object{
			{Key: "app", Value: c.app},
			{Key: "type", Value: "nonprivate"},
			{Key: "flashVer", Value: "FMLE/3.0 (compatible; Sluice)"},
			{Key: "tcUrl", Value: c.tcURL},
			{Key: "fpad", Value: false},
			{Key: "capabilities", Value: 15.0},
			{Key: "audioCodecs", Value: 3575.0},
			{Key: "videoCodecs", Value: 252.0},
			{Key: "videoFunction", Value: 1.0},
			{Key: "objectEncoding", Value: 0.0},
		},
	}
	if err := c.writeCommand(cmd, csidCommand, 0); err != nil {
		return err
	}
	res, err := c.waitResult(1)
	if err != nil {
		return fmt.Errorf("rtmp: connect: %w", err)
	}
	info := res.ArgObject(0)
	if info.String("level") == LevelError {
		return statusErrorFrom(info, "NetConnection.Connect.Rejected")
	}
	if code := info.String("code"); code != "" && code != "NetConnection.Connect.Success" {
		return fmt.Errorf("rtmp: connect: unexpected result code %q", code)
	}
	return nil
}

func (c *Client) txn() float64 {
	t := c.nextTxn
	c.nextTxn++
	return t
}

func (c *Client) writeCommand(cmd *Command, csid, streamID uint32) error {
	m, err := cmd.Message(csid, streamID)
	if err != nil {
		return err
	}
	if err := c.conn.WriteMessage(m); err != nil {
		return fmt.Errorf("rtmp: send %s: %w", cmd.Name, err)
	}
	return nil
}

// isControl reports whether t is a protocol or user control message type,
// which Conn handles by itself.
func isControl(t uint8) bool { return t >= MsgSetChunkSize && t <= MsgSetPeerBandwidth }

// nextCommand reads until a command message arrives, queueing media and
// data messages for ReadMessage.
func (c *Client) nextCommand() (*Command, error) {
	for {
		m, err := c.conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		switch {
		case isControl(m.Type):
		case m.Type == MsgCommandAMF0 || m.Type == MsgCommandAMF3:
			return ParseCommand(m)
		default:
			if len(c.pending) >= maxPending {
				return nil, fmt.Errorf("rtmp: more than %d messages before the command answer", maxPending)
			}
			c.pending = append(c.pending, m)
		}
	}
}

// waitResult waits for the _result or _error answering transaction txn.
func (c *Client) waitResult(txn float64) (*Command, error) {
	for {
		cmd, err := c.nextCommand()
		if err != nil {
			return nil, err
		}
		if cmd.TransactionID != txn {
			continue
		}
		switch cmd.Name {
		case "_result":
			return cmd, nil
		case "_error":
			return nil, statusErrorFrom(cmd.ArgObject(0), "_error")
		}
	}
}

// waitStatus waits for an onStatus whose code is want. Other non-error
// statuses (e.g. NetStream.Play.Reset) are skipped; an error-level status,
// or an _error answering txn, is returned as a *StatusError.
func (c *Client) waitStatus(txn float64, want string) error {
	for {
		cmd, err := c.nextCommand()
		if err != nil {
			return err
		}
		switch cmd.Name {
		case "onStatus":
			info := cmd.ArgObject(0)
			code := info.String("code")
			if code == want {
				return nil
			}
			if info.String("level") == LevelError {
				return statusErrorFrom(info, "onStatus")
			}
		case "_error":
			if cmd.TransactionID == txn {
				return statusErrorFrom(cmd.ArgObject(0), "_error")
			}
		}
	}
}

func (c *Client) createStream() error {
	txn := c.txn()
	if err := c.writeCommand(&Command{Name: "createStream", TransactionID: txn}, csidCommand, 0); err != nil {
		return err
	}
	res, err := c.waitResult(txn)
	if err != nil {
		return fmt.Errorf("rtmp: createStream: %w", err)
	}
	id, ok := res.ArgNumber(0)
	if !ok || id < 0 || id > 0xFFFFFFFF {
		return fmt.Errorf("rtmp: createStream: invalid stream id %v", res.Args)
	}
	c.streamID = uint32(id)
	return nil
}

// Publish announces the stream for publishing (§7.2.2.6): it switches the
// output chunk size to 4096, sends releaseStream, FCPublish, createStream
// and publish(name incl. query, "live"), and waits for onStatus
// NetStream.Publish.Start. An error status (e.g. NetStream.Publish.BadName)
// is returned as a *StatusError.
func (c *Client) Publish(ctx context.Context) error {
	err := c.withContext(ctx, func() error {
		if err := c.conn.SetOutChunkSize(clientPublishChunkSize); err != nil {
			return err
		}
		for _, name := range []string{"releaseStream", "FCPublish"} {
			cmd := &Command{Name: name, TransactionID: c.txn(), Args: []any{c.streamName}}
			if err := c.writeCommand(cmd, csidCommand, 0); err != nil {
				return err
			}
		}
		if err := c.createStream(); err != nil {
			return err
		}
		txn := c.txn()
		cmd := &Command{Name: "publish", TransactionID: txn, Args: []any{c.streamName, "live"}}
		if err := c.writeCommand(cmd, csidStream, c.streamID); err != nil {
			return err
		}
		return c.waitStatus(txn, "NetStream.Publish.Start")
	})
	if err != nil {
		return fmt.Errorf("rtmp: publish %q: %w", c.streamName, err)
	}
	return nil
}

// Play starts playing the stream (§7.2.2.1): it sends createStream,
// play(name incl. query) and a SetBufferLength user control event, and
// waits for onStatus NetStream.Play.Start (skipping NetStream.Play.Reset).
// An error status (e.g. NetStream.Play.StreamNotFound) is returned as a
// *StatusError.
func (c *Client) Play(ctx context.Context) error {
	err := c.withContext(ctx, func() error {
		if err := c.createStream(); err != nil {
			return err
		}
		txn := c.txn()
		cmd := &Command{Name: "play", TransactionID: txn, Args: []any{c.streamName}}
		if err := c.writeCommand(cmd, csidStream, c.streamID); err != nil {
			return err
		}
		ucm := UserControl{Event: UCSetBufferLength, StreamID: c.streamID, BufferLength: clientBufferLength}
		if err := c.conn.WriteMessage(ucm.Message()); err != nil {
			return fmt.Errorf("rtmp: send set buffer length: %w", err)
		}
		return c.waitStatus(txn, "NetStream.Play.Start")
	})
	if err != nil {
		return fmt.Errorf("rtmp: play %q: %w", c.streamName, err)
	}
	return nil
}

// WriteMessage sends a media or data message of a published stream. A zero
// StreamID is replaced by the created stream's ID, and a zero ChunkStreamID
// by 6 for video, 4 for audio, 5 for data and 3 otherwise. m itself is not
// modified.
func (c *Client) WriteMessage(m *Message) error {
	mm := *m
	if mm.StreamID == 0 {
		mm.StreamID = c.streamID
	}
	if mm.ChunkStreamID == 0 {
		switch mm.Type {
		case MsgVideo:
			mm.ChunkStreamID = csidVideo
		case MsgAudio:
			mm.ChunkStreamID = csidAudio
		case MsgDataAMF0, MsgDataAMF3:
			mm.ChunkStreamID = csidData
		default:
			mm.ChunkStreamID = csidCommand
		}
	}
	return c.conn.WriteMessage(&mm)
}

// ReadMessage returns the next message that is not protocol or user
// control: media, data and commands (onStatus, ...). Messages that arrived
// while Play waited for its status come first.
func (c *Client) ReadMessage() (*Message, error) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		return m, nil
	}
	for {
		m, err := c.conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		if !isControl(m.Type) {
			return m, nil
		}
	}
}

// SetDeadline sets the read and write deadline of the underlying socket,
// for ReadMessage and WriteMessage after Publish or Play.
func (c *Client) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// SetWriteDeadline sets the write deadline of the underlying socket only,
// for a publisher that reads the server's messages concurrently.
func (c *Client) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// StreamID returns the message stream ID from createStream (0 before
// Publish or Play).
func (c *Client) StreamID() uint32 { return c.streamID }

// StreamName returns the stream name sent to publish/play, including the
// URL query.
func (c *Client) StreamName() string { return c.streamName }

// Conn returns the underlying message connection, for callers that send
// pre-chunked bytes or need counters.
func (c *Client) Conn() *Conn { return c.conn }

// Close sends a best-effort deleteStream (§7.2.2.3) when a stream was
// created, then closes the socket. It is safe to call more than once.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		if c.streamID != 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(closeTimeout))
			cmd := &Command{Name: "deleteStream", Args: []any{float64(c.streamID)}}
			_ = c.writeCommand(cmd, csidCommand, 0)
		}
		c.closeErr = c.nc.Close()
	})
	return c.closeErr
}

// LocalAddr returns the client socket's local address (what the server
// sees as the remote address).
func (c *Client) LocalAddr() net.Addr { return c.nc.LocalAddr() }
