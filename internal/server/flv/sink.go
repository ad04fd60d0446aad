package flvserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/sluicemedia/sluice/internal/netutil"
)

// responseHeaders are sent with every HTTP-FLV response, after those the
// router set (CORS).
var responseHeaders = map[string]string{
	"Content-Type":  "video/x-flv",
	"Cache-Control": "no-cache, no-store",
}

// newHTTPSink takes over the connection for HTTP/1.x, so that each batch is
// one writev of [chunk-size line, shared tags..., CRLF] with no copy; for
// HTTP/2 it falls back to the ResponseWriter.
func newHTTPSink(w http.ResponseWriter, r *http.Request) (sink, error) {
	for k, v := range responseHeaders {
		w.Header().Set(k, v)
	}
	if r.ProtoMajor == 1 {
		if hj, ok := w.(http.Hijacker); ok {
			hdr := w.Header().Clone() // a hijacked writer's header is not ours to read
			// The hijacked buffers are dropped: the client sends nothing
			// after its request, and writes bypass the bufio.Writer.
			nc, _, err := hj.Hijack()
			if err != nil {
				return nil, fmt.Errorf("hijack: %w", err)
			}
			// Deadlines the server set for the request no longer apply.
			_ = nc.SetReadDeadline(time.Time{})
			// Writes go to the socket itself (writev), Close to the
			// connection the listener's limits count.
			hs := &hijackedSink{nc: netutil.Unwrap(nc), owner: nc}
			if err := hs.writeHead(hdr); err != nil {
				nc.Close()
				return nil, err
			}
			return hs, nil
		}
	}
	w.WriteHeader(http.StatusOK)
	return &responseSink{w: w, rc: http.NewResponseController(w)}, nil
}

// hijackedSink writes chunked transfer encoding itself.
type hijackedSink struct {
	nc       net.Conn
	owner    net.Conn // what Hijack returned: closed at the end
	sizeBuf  [16]byte
	bufs     net.Buffers
	deadline netutil.WriteDeadline
}

// writeHead writes the response head with hdr: responseHeaders and the
// router's (CORS). Values come from this server or are origins the router
// matched (request header values never hold CR or LF).
func (h *hijackedSink) writeHead(hdr http.Header) error {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n")
	_ = hdr.Write(&b)
	b.WriteString("\r\n")
	head := b.String()
	_ = h.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(h.nc, head)
	return err
}

// context is cancelled when the client closes its side: the client sends
// nothing after its request, so any read result means it is gone.
func (h *hijackedSink) context(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		defer cancel()
		// A small buffer of its own, not io.Copy's pooled 32 KiB nor the
		// hijack's 4 KiB bufio.Reader: one such goroutine parks per viewer.
		var buf [64]byte
		for {
			if _, err := h.nc.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	return ctx
}

var crlf = []byte("\r\n")

func (h *hijackedSink) write(bufs [][]byte, deadline time.Time) error {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	if n == 0 {
		return nil
	}
	size := strconv.AppendInt(h.sizeBuf[:0], int64(n), 16)
	size = append(size, '\r', '\n')
	h.bufs = append(h.bufs[:0], size)
	h.bufs = append(h.bufs, bufs...)
	h.bufs = append(h.bufs, crlf)
	if err := h.deadline.Extend(h.nc, time.Until(deadline)); err != nil {
		return err
	}
	b := h.bufs
	_, err := b.WriteTo(h.nc)
	return err
}

func (h *hijackedSink) close() {
	_ = h.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = h.nc.Write([]byte("0\r\n\r\n"))
	h.owner.Close()
}

// responseSink is the HTTP/2 path.
type responseSink struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *responseSink) context(parent context.Context) context.Context { return parent }

func (s *responseSink) write(bufs [][]byte, deadline time.Time) error {
	if err := s.rc.SetWriteDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	for _, b := range bufs {
		if _, err := s.w.Write(b); err != nil {
			return err
		}
	}
	return s.rc.Flush()
}

func (s *responseSink) close() {}

// wsSink sends each batch as one binary WebSocket message.
type wsSink struct {
	ws  *websocket.Conn
	ctx context.Context
}

func newWSSink(ws *websocket.Conn) *wsSink { return &wsSink{ws: ws} }

// context ends when the peer closes: CloseRead reads (and discards) what the
// client sends and cancels on close.
func (s *wsSink) context(parent context.Context) context.Context {
	s.ctx = s.ws.CloseRead(parent)
	return s.ctx
}

func (s *wsSink) write(bufs [][]byte, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(s.ctx, deadline)
	defer cancel()
	w, err := s.ws.Writer(ctx, websocket.MessageBinary)
	if err != nil {
		return err
	}
	for _, b := range bufs {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return w.Close()
}

func (s *wsSink) close() { _ = s.ws.Close(websocket.StatusNormalClosure, "stream ended") }
